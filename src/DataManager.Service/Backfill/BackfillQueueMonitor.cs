using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Backfill;

/// <summary>
/// Exports the job queue from the leader, whether or not it runs backfill itself: jobs by state, and how long
/// the oldest pending job has waited — the sign that no leader runs them (ENABLE_BACKFILLER=false on the
/// replica that leads). Every replica exports 0 from its start, so the alert's query always has a series.
/// </summary>
public sealed class BackfillQueueMonitor(IBackfillJobStore jobs, IOptions<BackfillOptions> options, IOptions<ServiceOptions> service, BackfillMetrics metrics, TimeProvider time)
    : ILeaderLoop
{
    /// <summary>How many pending jobs one iteration marks as waiting for a leader that runs backfill.</summary>
    public const int MarkLimit = 100;

    public string Name => "backfill-queue";

    public TimeSpan InitialDelay => TimeSpan.Zero;

    public TimeSpan Interval => options.Value.PollInterval;

    public async Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken)
    {
        var counts = await jobs.CountByStateAsync(cancellationToken);
        foreach (var state in Enum.GetValues<BackfillJobState>())
        {
            metrics.Jobs.WithLabels(state.ToString().ToLowerInvariant()).Set(counts.GetValueOrDefault(state));
        }

        var pending = counts.GetValueOrDefault(BackfillJobState.Pending) == 0 ? []
            : await jobs.ListAsync(BackfillJobState.Pending, options.Value.Enabled ? 1 : MarkLimit, cancellationToken);
        metrics.OldestPending.Set(pending.Count == 0 ? 0 : Math.Max(0, (time.GetUtcNow() - pending[0].CreatedAt).TotalSeconds));
        if (!options.Value.Enabled)
        {
            // This replica leads but does not run backfill: say so in the jobs that wait (the runner clears it when it claims them).
            var waiting = WaitingMessage(service.Value.PodId);
            foreach (var job in pending.Where(j => j.LastError != waiting))
            {
                await jobs.TryUpdateAsync(job with { LastError = waiting, UpdatedAt = time.GetUtcNow() }, job.Version, cancellationToken);
            }
        }
    }

    public static string WaitingMessage(string leader) =>
        $"not run yet: the leader ({leader}) has ENABLE_BACKFILLER=false; a leader with ENABLE_BACKFILLER=true runs it";
}
