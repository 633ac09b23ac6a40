using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Backfill;

/// <summary>What the audit hands its gaps to: the backfill side decides what, if anything, to do with them.</summary>
public interface IBackfillPlanner
{
    /// <summary>Marks gaps Binance has confirmed empty, and (with ENABLE_AUTO_BACKFILL) turns the others into jobs; returns the gaps as reported.</summary>
    Task<IReadOnlyList<GapFinding>> PlanAsync(SeriesKey series, IReadOnlyList<GapFinding> gaps, long term, CancellationToken cancellationToken);
}

/// <summary>
/// Auto-backfill: a gap spanning at least MIN_AUTO_BACKFILL_GAP becomes a job, unless a pending or running job
/// overlaps it, and never more than MAX_AUTO_BACKFILL_JOBS auto jobs pending or running. A gap inside ranges
/// Binance returned empty is reported <c>sourceEmpty</c> and never triggers a job.
/// </summary>
public sealed partial class BackfillPlanner(IBackfillJobStore jobs, IOptions<BackfillOptions> options, BackfillMetrics metrics, TimeProvider time, ILogger<BackfillPlanner> logger)
    : IBackfillPlanner, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<IReadOnlyList<GapFinding>> PlanAsync(SeriesKey series, IReadOnlyList<GapFinding> gaps, long term, CancellationToken cancellationToken)
    {
        if (gaps.Count == 0)
        {
            return gaps;
        }

        var completed = await jobs.ListAsync(BackfillJobState.Completed, 10_000, cancellationToken);
        var empty = completed.Where(j => j.Symbol == series.Symbol && j.Timeframe == series.Timeframe.Name).SelectMany(j => j.ConfirmedEmpty).ToList();
        var marked = gaps.Select(g => IsCovered(g, series.Timeframe.Interval, empty) ? g with { SourceEmpty = true } : g).ToList();
        if (!options.Value.AutoBackfill)
        {
            return marked;
        }

        // One planner at a time, so the cap and the overlap check see each other's jobs.
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var active = (await jobs.ListAsync(BackfillJobState.Pending, 10_000, cancellationToken))
                .Concat(await jobs.ListAsync(BackfillJobState.Running, 10_000, cancellationToken)).ToList();
            var autoActive = active.Count(j => j.Trigger == "auto");
            foreach (var gap in marked.Where(g => !g.SourceEmpty))
            {
                var from = gap.From;
                var to = gap.To + series.Timeframe.Interval;
                if (to - from < options.Value.MinAutoBackfillGap)
                {
                    continue;
                }

                if (active.Any(j => j.Symbol == series.Symbol && j.Timeframe == series.Timeframe.Name && j.From < to && from < j.To))
                {
                    continue;
                }

                if (autoActive >= options.Value.MaxAutoBackfillJobs)
                {
                    LogCapReached(logger, options.Value.MaxAutoBackfillJobs, series.ToString());
                    break;
                }

                var job = BackfillJobs.New(series, from, to, "auto", time.GetUtcNow()) with { Term = term };
                await jobs.CreateAsync(job, cancellationToken);
                active.Add(job);
                autoActive++;
                metrics.Triggered.WithLabels(series.Symbol, series.Timeframe.Name).Inc();
                LogTriggered(logger, job.Id, series.ToString(), from, to, gap.MissingCandles);
            }
        }
        finally
        {
            _gate.Release();
        }

        return marked;
    }

    public void Dispose() => _gate.Dispose();

    private static bool IsCovered(GapFinding gap, TimeSpan interval, List<EmptyRange> empty)
    {
        // Every missing open time lies in some confirmed-empty range.
        for (var t = gap.From; t <= gap.To; t += interval)
        {
            if (!empty.Any(r => r.From <= t && t < r.To))
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Auto backfill job {JobId} for {Series} {From:O} .. {To:O} ({Missing} missing candles)")]
    private static partial void LogTriggered(ILogger logger, string jobId, string series, DateTimeOffset from, DateTimeOffset to, int missing);

    [LoggerMessage(Level = LogLevel.Information, Message = "Auto backfill cap of {Cap} pending or running jobs reached; gaps of {Series} wait for a later cycle")]
    private static partial void LogCapReached(ILogger logger, int cap, string series);
}

public static class BackfillJobs
{
    public static BackfillJob New(SeriesKey series, DateTimeOffset from, DateTimeOffset to, string trigger, DateTimeOffset now) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Symbol = series.Symbol,
        Timeframe = series.Timeframe.Name,
        From = from,
        To = to,
        Trigger = trigger,
        State = BackfillJobState.Pending,
        ExpectedCandles = AuditGrid.For(from.UtcDateTime, to.UtcDateTime, series.Timeframe.Interval).Size,
        CreatedAt = now,
        UpdatedAt = now,
    };
}
