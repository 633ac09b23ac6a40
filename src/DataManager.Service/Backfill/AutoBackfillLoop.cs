using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Backfill;

/// <summary>
/// Auto-backfill (ENABLE_AUTO_BACKFILL), a leader-only loop of its own: once per finished audit cycle it reads
/// that cycle's records and turns their gaps into jobs with <see cref="AutoBackfillPlan"/>. The audit knows
/// nothing of it. A new leader plans the newest cycle again; the jobs the old leader made for it are known
/// (pending, running, or created since the cycle began), so nothing is asked for twice.
/// </summary>
public sealed partial class AutoBackfillLoop(
    IAuditStore audits,
    IBackfillJobStore jobs,
    IOptions<BackfillOptions> options,
    BackfillMetrics metrics,
    TimeProvider time,
    ILogger<AutoBackfillLoop> logger) : ILeaderLoop
{
    /// <summary>Pending or running jobs read per state for the overlap check and the cap.</summary>
    private const int MaxActiveJobs = 10_000;

    /// <summary>Jobs read per page, newest first, while looking for those created since the cycle began.</summary>
    private const int JobPage = 500;

    private string? _plannedCycleId;

    public string Name => "auto-backfill";

    public TimeSpan InitialDelay => TimeSpan.Zero;

    /// <summary>BACKFILL_POLL_INTERVAL: how soon after a cycle ends its gaps become jobs (one small read when there is no new cycle).</summary>
    public TimeSpan Interval => options.Value.PollInterval;

    public Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken) => PlanNewestCycleAsync(leadership.Term, cancellationToken);

    /// <summary>Plans the newest finished audit cycle, once; returns the jobs created.</summary>
    public async Task<IReadOnlyList<BackfillJob>> PlanNewestCycleAsync(long term, CancellationToken cancellationToken)
    {
        var cycle = AuditCycles.NewestFinished(await audits.RecentCyclesAsync(AuditCycles.RecentToScan, cancellationToken));
        if (cycle is null || cycle.Id == _plannedCycleId)
        {
            return [];
        }

        var records = await audits.RecordsOfAsync(cycle, cancellationToken);
        var plan = AutoBackfillPlan.For(records, await KnownJobsAsync(cycle.StartedAt, cancellationToken), options.Value.MinAutoBackfillGap, options.Value.MaxAutoBackfillJobs);
        var created = new List<BackfillJob>();
        foreach (var wanted in plan.Jobs)
        {
            var job = BackfillJobs.New(wanted.Series, wanted.From, wanted.To, BackfillTriggers.Auto, time.GetUtcNow()) with { Term = term };
            await jobs.CreateAsync(job, cancellationToken);
            created.Add(job);
            metrics.Triggered.WithLabels(wanted.Series.Symbol, wanted.Series.Timeframe.Name).Inc();
            LogTriggered(logger, job.Id, wanted.Series.ToString(), wanted.From, wanted.To, wanted.MissingCandles, cycle.Id);
        }

        if (plan.WaitingForCap is { } waiting)
        {
            LogCapReached(logger, options.Value.MaxAutoBackfillJobs, waiting.ToString());
        }

        _plannedCycleId = cycle.Id;
        return created;
    }

    /// <summary>Pending and running jobs, and every job created since <paramref name="since"/>: a gap one of them covers is taken care of.</summary>
    private async Task<IReadOnlyList<BackfillJob>> KnownJobsAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var known = (await jobs.ListAsync(BackfillJobState.Pending, MaxActiveJobs, cancellationToken))
            .Concat(await jobs.ListAsync(BackfillJobState.Running, MaxActiveJobs, cancellationToken))
            .ToDictionary(j => j.Id, StringComparer.Ordinal);
        BackfillJobPosition? after = null;
        while (true)
        {
            var page = await jobs.ListNewestAsync(null, after, JobPage, cancellationToken);
            foreach (var job in page.TakeWhile(j => j.CreatedAt >= since))
            {
                known.TryAdd(job.Id, job);
            }

            if (page.Count < JobPage || page[^1].CreatedAt < since)
            {
                return [.. known.Values];
            }

            after = BackfillJobPosition.Of(page[^1]);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Auto backfill job {JobId} for {Series} {From:O} .. {To:O} ({Missing} missing candles, audit cycle {CycleId:l})")]
    private static partial void LogTriggered(ILogger logger, string jobId, string series, DateTimeOffset from, DateTimeOffset to, int missing, string cycleId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Auto backfill cap of {Cap} pending or running jobs reached; gaps from {Series} on wait for a later cycle")]
    private static partial void LogCapReached(ILogger logger, int cap, string series);
}

/// <summary>
/// Which gaps of an audit cycle become jobs: a gap spanning at least MIN_AUTO_BACKFILL_GAP, not reported
/// <c>sourceEmpty</c>, that no known job of its series overlaps; never more than MAX_AUTO_BACKFILL_JOBS auto jobs
/// pending or running. Series in name order, gaps oldest first.
/// </summary>
public static class AutoBackfillPlan
{
    public sealed record WantedJob(SeriesKey Series, DateTimeOffset From, DateTimeOffset To, int MissingCandles);

    /// <param name="WaitingForCap">The series whose gap met the cap first, if one did: it and those after it wait for a later cycle.</param>
    public sealed record Plan(IReadOnlyList<WantedJob> Jobs, SeriesKey? WaitingForCap);

    public static Plan For(IEnumerable<AuditRecord> records, IReadOnlyList<BackfillJob> knownJobs, TimeSpan minGap, int maxAutoJobs)
    {
        var taken = knownJobs.Select(j => (j.Symbol, j.Timeframe, j.From, j.To)).ToList();
        var autoActive = knownJobs.Count(j => j.Trigger == BackfillTriggers.Auto && !BackfillJobStates.IsEnded(j.State));
        var wanted = new List<WantedJob>();
        foreach (var record in records.Where(r => r.Error is null).OrderBy(r => r.Symbol, StringComparer.Ordinal).ThenBy(r => r.Timeframe, StringComparer.Ordinal))
        {
            if (!Timeframe.TryParse(record.Timeframe, out var timeframe))
            {
                continue;
            }

            var series = new SeriesKey(record.Symbol, timeframe);
            foreach (var gap in record.Gaps.Where(g => !g.SourceEmpty).OrderBy(g => g.From))
            {
                var (from, to) = (gap.From, gap.To + timeframe.Interval);
                if (to - from < minGap || taken.Any(j => j.Symbol == series.Symbol && j.Timeframe == timeframe.Name && j.From < to && from < j.To))
                {
                    continue;
                }

                if (autoActive >= maxAutoJobs)
                {
                    return new Plan(wanted, series);
                }

                wanted.Add(new WantedJob(series, from, to, gap.MissingCandles));
                taken.Add((series.Symbol, timeframe.Name, from, to));
                autoActive++;
            }
        }

        return new Plan(wanted, null);
    }
}
