using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.Extensions.Options;
using Prometheus;

namespace DataManager.Backfill;

/// <summary>
/// Runs backfill jobs on the leader (one rate budget): each iteration claims pending jobs, and running jobs left
/// by an older term (a dead or deposed leader), up to a few at once. A job walks its range from its cursor in
/// 499-candle pages; each page is written with INSERT IGNORE and only then does the cursor advance, so a job
/// resumes where it stopped and running it twice writes nothing new. A cancelled job stops at the next page.
/// At the end the audit's gap check over the range is stored on the job.
/// </summary>
public sealed partial class BackfillRunner(
    IBackfillJobStore jobs,
    BinanceClient binance,
    ICandleWriter writer,
    SeriesAuditor auditor,
    IOptions<BackfillOptions> options,
    TimeProvider time,
    ILogger<BackfillRunner> logger) : ILeaderLoop
{
    public const int MaxConcurrentJobs = 2;

    internal static readonly Gauge Jobs = Metrics.CreateGauge("data_manager_backfill_jobs", "Backfill jobs by state.", ["state"]);
    private static readonly Counter Finished = CreateFinished();
    internal static readonly Counter Written = Metrics.CreateCounter("data_manager_backfill_candles_written_total", "Candles written by backfill.", ["symbol", "timeframe"]);

    /// <summary>Ended jobs are pruned at most this often (each poll would be a needless delete every few seconds).</summary>
    public static readonly TimeSpan PruneInterval = TimeSpan.FromHours(1);

    private DateTimeOffset _nextPrune = DateTimeOffset.MinValue;

    public string Name => "backfill";

    public TimeSpan InitialDelay => TimeSpan.Zero;

    public TimeSpan Interval => options.Value.PollInterval;

    public async Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken)
    {
        var pending = await jobs.ListAsync(BackfillJobState.Pending, MaxConcurrentJobs, cancellationToken);
        var orphaned = (await jobs.ListAsync(BackfillJobState.Running, 100, cancellationToken)).Where(j => j.Term < leadership.Term);
        var runnable = orphaned.Concat(pending).Take(MaxConcurrentJobs).ToList();
        await Task.WhenAll(runnable.Select(job => RunJobAsync(job, leadership.Term, cancellationToken)));
        var now = time.GetUtcNow();
        if (now >= _nextPrune)
        {
            _nextPrune = now + PruneInterval;
            await jobs.PruneFinishedAsync(now - TimeSpan.FromDays(options.Value.RetentionDays), cancellationToken);
        }

        await ExportStatesAsync(cancellationToken);
    }

    /// <summary>Runs one job to its end (or until cancelled, failed, or taken by another term); returns it as stored.</summary>
    public async Task<BackfillJob> RunJobAsync(BackfillJob job, long term, CancellationToken cancellationToken, IProgress<BackfillJob>? progress = null)
    {
        var now = time.GetUtcNow();
        var claimed = job with { State = BackfillJobState.Running, Term = term, StartedAt = job.StartedAt ?? now, UpdatedAt = now, Attempts = job.Attempts + 1, LastError = null };
        if (!await jobs.TryUpdateAsync(claimed, job.Version, cancellationToken))
        {
            return await jobs.GetAsync(job.Id, cancellationToken) ?? job; // another replica or a cancel got there first
        }

        job = claimed with { Version = job.Version + 1 };
        LogStarted(logger, job.Id, job.Symbol, job.Timeframe, job.Cursor ?? job.From, job.To, term);
        var timeframe = Timeframe.Parse(job.Timeframe);
        var series = new SeriesKey(job.Symbol, timeframe);
        // Pages are fetched a few ahead, in parallel, but written (and the cursor advanced) strictly in order.
        var pages = new Queue<KlineRequest>(BinanceWeights.Plan(job.Cursor ?? job.From, job.To, timeframe.Interval));
        var inFlight = new Queue<(KlineRequest Page, Task<IReadOnlyList<Candle>> Fetch)>();
        using var stopFetching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void Prefetch()
        {
            while (inFlight.Count < options.Value.Prefetch && pages.TryDequeue(out var page))
            {
                inFlight.Enqueue((page, binance.GetKlinesAsync(job.Symbol, timeframe, page, stopFetching.Token)));
            }
        }

        try
        {
            Prefetch();
            while (inFlight.TryDequeue(out var fetching))
            {
                var page = fetching.Page;
                var stored = await jobs.GetAsync(job.Id, cancellationToken);
                if (stored is null || stored.State == BackfillJobState.Cancelled || stored.Version != job.Version)
                {
                    inFlight.Enqueue(fetching);
                    LogStopped(logger, job.Id, stored?.State.ToString() ?? "deleted");
                    return stored ?? job;
                }

                var candles = await fetching.Fetch;
                Prefetch();
                var written = candles.Count == 0 ? 0 : await writer.InsertIgnoreAsync(timeframe, candles, cancellationToken);
                Written.WithLabels(job.Symbol, job.Timeframe).Inc(written);
                var pageEnd = DateTimeOffset.FromUnixTimeMilliseconds(page.EndMs) + timeframe.Interval;
                var next = job with
                {
                    Cursor = pageEnd,
                    FetchedCandles = job.FetchedCandles + candles.Count,
                    WrittenCandles = job.WrittenCandles + written,
                    UpdatedAt = time.GetUtcNow(),
                    ConfirmedEmpty = candles.Count == 0
                        ? [.. job.ConfirmedEmpty, new EmptyRange(DateTimeOffset.FromUnixTimeMilliseconds(page.StartMs), pageEnd)]
                        : job.ConfirmedEmpty,
                };
                if (!await jobs.TryUpdateAsync(next, job.Version, cancellationToken))
                {
                    return await jobs.GetAsync(job.Id, cancellationToken) ?? job;
                }

                job = next with { Version = job.Version + 1 };
                progress?.Report(job);
            }

            var verification = await auditor.AuditAsync(series, job.From.UtcDateTime, job.To.UtcDateTime, job.To.UtcDateTime, cancellationToken);
            var done = job with
            {
                State = BackfillJobState.Completed,
                FinishedAt = time.GetUtcNow(),
                UpdatedAt = time.GetUtcNow(),
                Verification = verification.Error ?? $"{verification.Gaps.Count} gaps, {verification.ActualCandles} of {verification.ExpectedCandles} candles"
                    + (verification.Gaps.Count > 0 ? $" (first missing {verification.Gaps[0].From:yyyy-MM-dd'T'HH:mm:ss'Z'})" : ""),
            };
            await jobs.TryUpdateAsync(done, job.Version, cancellationToken);
            Finished.WithLabels("completed").Inc();
            LogCompleted(logger, job.Id, job.WrittenCandles, job.FetchedCandles, done.Verification);
            return done with { Version = job.Version + 1 };
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var failed = job with { State = BackfillJobState.Failed, LastError = e.Message, UpdatedAt = time.GetUtcNow(), FinishedAt = time.GetUtcNow() };
            await jobs.TryUpdateAsync(failed, job.Version, CancellationToken.None);
            Finished.WithLabels("failed").Inc();
            LogFailed(logger, job.Id, e.Message);
            return failed with { Version = job.Version + 1 };
        }
        finally
        {
            // However the job ends, no page it started fetching outlives it (a no-op once all were consumed).
            await StopAsync(stopFetching, inFlight);
        }
    }

    /// <summary>Cancels the pages still being fetched and waits for them, so none outlives the job.</summary>
    private static async Task StopAsync(CancellationTokenSource stopFetching, Queue<(KlineRequest Page, Task<IReadOnlyList<Candle>> Fetch)> inFlight)
    {
        await stopFetching.CancelAsync();
        foreach (var (_, fetch) in inFlight)
        {
            try
            {
                await fetch;
            }
            catch (Exception)
            {
                // Abandoned on purpose: the job already failed or stopped.
            }
        }
    }

    /// <summary>Both outcomes exist from the start, so "failures in the last 15 minutes" is 0, not absent.</summary>
    private static Counter CreateFinished()
    {
        var finished = Metrics.CreateCounter("data_manager_backfill_jobs_finished_total", "Backfill jobs that ended, by outcome (completed or failed).", ["state"]);
        finished.WithLabels("completed");
        finished.WithLabels("failed");
        return finished;
    }

    private async Task ExportStatesAsync(CancellationToken cancellationToken)
    {
        var counts = await jobs.CountByStateAsync(cancellationToken);
        foreach (var state in Enum.GetValues<BackfillJobState>())
        {
            Jobs.WithLabels(state.ToString().ToLowerInvariant()).Set(counts.GetValueOrDefault(state));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId} {Symbol}/{Timeframe} running from {Cursor:O} to {To:O} (term {Term})")]
    private static partial void LogStarted(ILogger logger, string jobId, string symbol, string timeframe, DateTimeOffset cursor, DateTimeOffset to, long term);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId} stopped: it is now {State}")]
    private static partial void LogStopped(ILogger logger, string jobId, string state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId} completed: {Written} candles written of {Fetched} fetched; verification: {Verification}")]
    private static partial void LogCompleted(ILogger logger, string jobId, long written, long fetched, string? verification);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backfill job {JobId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string jobId, string error);
}
