using System.Diagnostics;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Backfill;

/// <summary>
/// Runs backfill jobs on the leader (one rate budget). Each iteration serves every pending job, and every
/// running job whose owner is gone (see <see cref="MayTakeOver"/>: a killed or deposed process, election on or
/// off), round-robin: a job runs a slice of pages, then the next job waiting gets its turn, so a long job never
/// starves a short one. A job walks its range from its cursor in 499-candle pages; the pages fetched so far
/// are written in one transaction that inserts only open times with no row yet, and only then does the
/// cursor advance, so a job resumes where it stopped and running it twice writes nothing new. A cancelled
/// job stops at the next write. At the end the audit's gap check over the range is stored on the job.
/// </summary>
public sealed partial class BackfillRunner(
    IBackfillJobStore jobs,
    BinanceClient binance,
    ICandleWriter writer,
    SeriesAuditor auditor,
    IOptions<BackfillOptions> options,
    IOptions<ServiceOptions> service,
    BackfillMetrics metrics,
    TimeProvider time,
    ILogger<BackfillRunner> logger) : ILeaderLoop
{
    /// <summary>Most candles written in one transaction (pages already fetched are written together).</summary>
    public const int WriteBatchCandles = 5_000;

    /// <summary>How many jobs one round looks at (running first, then pending oldest first).</summary>
    public const int RoundJobs = 100;

    /// <summary>A running job logs its progress at most this often.</summary>
    public static readonly TimeSpan ProgressLogInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A running job of another pod's process at term 0 (the backfill verb, or a replica with election off) is
    /// taken over only once its heartbeat (<c>updatedAt</c>) is this old: that process may be alive and running it.
    /// </summary>
    public static readonly TimeSpan TakeoverAfter = TimeSpan.FromSeconds(60);

    /// <summary>A running job's owner refreshes its heartbeat this often, whatever it waits on (budget, ban, a slow page).</summary>
    public static readonly TimeSpan HeartbeatInterval = TakeoverAfter / 3;

    /// <summary>Ended jobs are pruned at most this often (each poll would be a needless delete every few seconds).</summary>
    public static readonly TimeSpan PruneInterval = TimeSpan.FromHours(1);

    private DateTimeOffset _nextPrune = DateTimeOffset.MinValue;

    public string Name => "backfill";

    public TimeSpan InitialDelay => TimeSpan.Zero;

    public TimeSpan Interval => options.Value.PollInterval;

    public async Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (now >= _nextPrune)
        {
            _nextPrune = now + PruneInterval;
            await jobs.PruneFinishedAsync(now - TimeSpan.FromDays(options.Value.RetentionDays), cancellationToken);
        }

        // Rounds until no job is left to run; a job created meanwhile joins the next round.
        while (true)
        {
            var round = await RunnableAsync(cancellationToken);
            if (round.Count == 0)
            {
                return;
            }

            var progressed = false;
            foreach (var job in round)
            {
                var after = await RunSliceAsync(job, leadership.Term, OthersWaitAsync, null, cancellationToken);
                progressed |= after.Version != job.Version;
            }

            if (!progressed)
            {
                return; // every job was taken by someone else meanwhile: look again at the next poll
            }
        }
    }

    /// <summary>Runs one job to its end (or until cancelled, failed, or taken by another process); returns it as stored.</summary>
    public async Task<BackfillJob> RunJobAsync(BackfillJob job, long term, CancellationToken cancellationToken, IProgress<BackfillJob>? progress = null)
    {
        return await RunSliceAsync(job, term, null, progress, cancellationToken);
    }

    /// <summary>Running jobs (its own, and those of other incarnations, which it takes over), then pending ones, oldest first.</summary>
    private async Task<List<BackfillJob>> RunnableAsync(CancellationToken cancellationToken)
    {
        var running = await jobs.ListAsync(BackfillJobState.Running, RoundJobs, cancellationToken);
        var pending = await jobs.ListAsync(BackfillJobState.Pending, RoundJobs, cancellationToken);
        return [.. running, .. pending];
    }

    /// <summary>
    /// Whether a process running under <paramref name="podId"/> and <paramref name="term"/> may take over a job
    /// another incarnation left running: at once when that owner was this pod (Kubernetes never runs two pods of
    /// one name, so that process is dead) or a leader of an older term (fenced); otherwise only once the owner's
    /// heartbeat is older than <see cref="TakeoverAfter"/>.
    /// </summary>
    public static bool MayTakeOver(BackfillJob job, string podId, long term, DateTimeOffset now) =>
        job.Owner == podId
        || (job.Term >= 1 && job.Term < term)
        || now - job.UpdatedAt >= TakeoverAfter;

    private async Task<bool> OthersWaitAsync(CancellationToken cancellationToken)
    {
        var counts = await jobs.CountByStateAsync(cancellationToken);
        return counts.GetValueOrDefault(BackfillJobState.Pending) + counts.GetValueOrDefault(BackfillJobState.Running) > 1;
    }

    /// <summary>Makes the job this incarnation's under <paramref name="term"/>; null when another process or a cancel got there first.</summary>
    private async Task<BackfillJob?> ClaimAsync(BackfillJob job, long term, CancellationToken cancellationToken)
    {
        var incarnation = service.Value.Incarnation;
        if (job.State == BackfillJobState.Running && job.OwnerIncarnation == incarnation && job.Term == term)
        {
            return job;
        }

        if (job.State is not (BackfillJobState.Pending or BackfillJobState.Running))
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (job.State == BackfillJobState.Running && !MayTakeOver(job, service.Value.PodId, term, now))
        {
            return null; // its owner is alive (its heartbeat is fresh): never run one job twice at once
        }

        var claimed = job with
        {
            State = BackfillJobState.Running,
            Term = term,
            Owner = service.Value.PodId,
            OwnerIncarnation = incarnation,
            StartedAt = job.StartedAt ?? now,
            UpdatedAt = now,
            Attempts = job.Attempts + 1,
            LastError = null,
        };
        if (!await jobs.TryUpdateAsync(claimed, job.Version, cancellationToken))
        {
            return null;
        }

        if (job.State == BackfillJobState.Running)
        {
            LogTakenOver(logger, job.Id, job.Owner ?? "?", job.OwnerIncarnation ?? "?", job.Term, job.Cursor ?? job.From, term);
        }
        else
        {
            LogStarted(logger, job.Id, job.Symbol, job.Timeframe, job.From, job.To, job.ExpectedCandles, term);
        }

        return claimed with { Version = job.Version + 1 };
    }

    /// <summary>
    /// Runs the job from its cursor: to its end when <paramref name="yieldTo"/> is null, else for
    /// BACKFILL_SLICE_PAGES pages at a time for as long as no other job waits. Returns the job as stored.
    /// </summary>
    private async Task<BackfillJob> RunSliceAsync(
        BackfillJob job, long term, Func<CancellationToken, Task<bool>>? yieldTo, IProgress<BackfillJob>? progress, CancellationToken cancellationToken)
    {
        if (await ClaimAsync(job, term, cancellationToken) is not { } claimed)
        {
            return await jobs.GetAsync(job.Id, cancellationToken) ?? job;
        }

        job = claimed;
        var timeframe = Timeframe.Parse(job.Timeframe);
        var series = new SeriesKey(job.Symbol, timeframe);
        var pages = new Queue<KlineRequest>(BinanceWeights.Plan(job.Cursor ?? job.From, job.To, timeframe.Interval));
        // Pages are fetched a few ahead, in parallel, but written (and the cursor advanced) strictly in order.
        var inFlight = new Queue<(KlineRequest Page, Task<IReadOnlyList<Candle>> Fetch)>();
        var budget = yieldTo is null ? int.MaxValue : options.Value.SlicePages;
        var started = 0;
        var yielded = false;
        using var meter = BinanceWeightMeter.Start();
        var lastProgressLog = time.GetTimestamp();
        using var stopFetching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The heartbeat and the writes both replace `job` (each update bumps its version): one at a time.
        using var writing = new SemaphoreSlim(1, 1);
        using var stopBeating = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var lost = false;
        async Task HeartbeatAsync()
        {
            using var timer = new PeriodicTimer(HeartbeatInterval, time);
            try
            {
                while (await timer.WaitForNextTickAsync(stopBeating.Token))
                {
                    await writing.WaitAsync(stopBeating.Token);
                    try
                    {
                        var beat = job with { UpdatedAt = time.GetUtcNow() };
                        if (!await jobs.TryUpdateAsync(beat, job.Version, stopBeating.Token))
                        {
                            lost = true; // cancelled, or taken over: stop asking Binance for it
                            await stopFetching.CancelAsync();
                            return;
                        }

                        job = beat with { Version = job.Version + 1 };
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        LogHeartbeatFailed(logger, job.Id, e.Message); // the next beat tries again
                    }
                    finally
                    {
                        writing.Release();
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The turn ended.
            }
        }

        var heartbeat = HeartbeatAsync();
        async Task StopBeatingAsync()
        {
            await stopBeating.CancelAsync();
            await heartbeat;
        }

        async Task PrefetchAsync()
        {
            while (inFlight.Count < options.Value.Prefetch && pages.Count > 0)
            {
                if (started >= budget)
                {
                    if (await yieldTo!(cancellationToken))
                    {
                        pages.Clear(); // the turn ends once the pages already asked for are written
                        yielded = true;
                        return;
                    }

                    budget += options.Value.SlicePages;
                }

                var page = pages.Dequeue();
                started++;
                inFlight.Enqueue((page, binance.GetKlinesAsync(job.Symbol, timeframe, page, stopFetching.Token)));
            }
        }

        try
        {
            await PrefetchAsync();
            while (inFlight.TryDequeue(out var head))
            {
                var batch = new List<(KlineRequest Page, IReadOnlyList<Candle> Candles)> { (head.Page, await head.Fetch) };
                var candleCount = batch[0].Candles.Count;
                while (inFlight.TryPeek(out var fetched) && fetched.Fetch.IsCompletedSuccessfully && candleCount + fetched.Fetch.Result.Count <= WriteBatchCandles)
                {
                    inFlight.Dequeue();
                    batch.Add((fetched.Page, fetched.Fetch.Result));
                    candleCount += fetched.Fetch.Result.Count;
                }

                await PrefetchAsync();
                await writing.WaitAsync(cancellationToken);
                try
                {
                    var stored = await jobs.GetAsync(job.Id, cancellationToken);
                    if (stored is null || stored.State == BackfillJobState.Cancelled || stored.Version != job.Version)
                    {
                        LogStopped(logger, job.Id, stored?.State.ToString() ?? "deleted");
                        return stored ?? job;
                    }

                    // Binance also answers the candle still open; it is not final, so it is not written (nor counted).
                    var closedUntil = ClosedUntil(time.GetUtcNow(), timeframe);
                    var candles = batch.SelectMany(b => b.Candles).Where(c => c.OpenTime + timeframe.Interval <= closedUntil.UtcDateTime).ToList();
                    var written = candles.Count == 0 ? 0 : await writer.InsertMissingAsync(series, candles, cancellationToken);
                    metrics.Written.WithLabels(job.Symbol, job.Timeframe).Inc(written);
                    var next = job with
                    {
                        Cursor = PageEnd(batch[^1].Page, timeframe),
                        FetchedCandles = job.FetchedCandles + candles.Count,
                        WrittenCandles = job.WrittenCandles + written,
                        WeightUsed = job.WeightUsed + meter.TakeWeight(),
                        UpdatedAt = time.GetUtcNow(),
                        ConfirmedEmpty = WithEmptyPages(job.ConfirmedEmpty, batch, timeframe, closedUntil),
                    };
                    if (!await jobs.TryUpdateAsync(next, job.Version, cancellationToken))
                    {
                        return await jobs.GetAsync(job.Id, cancellationToken) ?? job;
                    }

                    job = next with { Version = job.Version + 1 };
                }
                finally
                {
                    writing.Release();
                }

                progress?.Report(job);
                if (time.GetElapsedTime(lastProgressLog) >= ProgressLogInterval)
                {
                    lastProgressLog = time.GetTimestamp();
                    LogProgress(logger, job.Id, job.FetchedCandles, job.ExpectedCandles, job.WrittenCandles, job.Cursor.Value);
                }
            }

            if (yielded)
            {
                return job; // the turn ended; the next round goes on from the cursor
            }

            await StopBeatingAsync();
            return await CompleteAsync(job, series, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            await StopBeatingAsync();
            var now = time.GetUtcNow();
            var failed = job with { State = BackfillJobState.Failed, LastError = Describe(e), UpdatedAt = now, FinishedAt = now, WeightUsed = job.WeightUsed + meter.TakeWeight() };
            if (lost || !await jobs.TryUpdateAsync(failed, job.Version, CancellationToken.None))
            {
                // Cancelled or taken over meanwhile (its pages were stopped on purpose): it is no longer this process's.
                var stored = await jobs.GetAsync(job.Id, CancellationToken.None);
                LogStopped(logger, job.Id, stored?.State.ToString() ?? "deleted");
                return stored ?? job;
            }

            metrics.Finished.WithLabels("failed").Inc();
            LogFailed(logger, job.Id, failed.LastError!, job.WrittenCandles, job.FetchedCandles, failed.WeightUsed);
            return failed with { Version = job.Version + 1 };
        }
        finally
        {
            // However the turn ends, no page it started fetching outlives it (a no-op once all were consumed).
            await StopBeatingAsync();
            await StopAsync(stopFetching, inFlight);
        }
    }

    private async Task<BackfillJob> CompleteAsync(BackfillJob job, SeriesKey series, CancellationToken cancellationToken)
    {
        var verification = await auditor.AuditAsync(series, job.From.UtcDateTime, job.To.UtcDateTime, job.To.UtcDateTime, cancellationToken);
        var now = time.GetUtcNow();
        var done = job with
        {
            State = BackfillJobState.Completed,
            FinishedAt = now,
            UpdatedAt = now,
            Verification = verification.Error ?? $"{verification.Gaps.Count} gaps, {verification.ActualCandles} of {verification.ExpectedCandles} candles"
                + (verification.Gaps.Count > 0 ? $" (first missing {verification.Gaps[0].From:yyyy-MM-dd'T'HH:mm:ss'Z'})" : ""),
        };
        if (!await jobs.TryUpdateAsync(done, job.Version, cancellationToken))
        {
            return await jobs.GetAsync(job.Id, cancellationToken) ?? job;
        }

        metrics.Finished.WithLabels("completed").Inc();
        LogCompleted(logger, job.Id, job.WrittenCandles, job.FetchedCandles, job.WeightUsed, (now - (job.StartedAt ?? now)).TotalSeconds, done.Verification);
        return done with { Version = job.Version + 1 };
    }

    private static DateTimeOffset PageEnd(KlineRequest page, Timeframe timeframe) =>
        DateTimeOffset.FromUnixTimeMilliseconds(page.EndMs) + timeframe.Interval;

    /// <summary>The end of the last closed candle's period: open times before it have closed.</summary>
    public static DateTimeOffset ClosedUntil(DateTimeOffset now, Timeframe timeframe) =>
        new(timeframe.Floor(now.UtcDateTime), TimeSpan.Zero);

    /// <summary>
    /// Adds the pages Binance answered empty, merged with an adjacent range; only pages that lie wholly before
    /// <paramref name="closedUntil"/> count (no answer for the future says nothing about it).
    /// </summary>
    public static IReadOnlyList<EmptyRange> WithEmptyPages(
        IReadOnlyList<EmptyRange> confirmed, IReadOnlyList<(KlineRequest Page, IReadOnlyList<Candle> Candles)> pages, Timeframe timeframe, DateTimeOffset closedUntil)
    {
        var result = confirmed;
        foreach (var (page, candles) in pages)
        {
            var from = DateTimeOffset.FromUnixTimeMilliseconds(page.StartMs);
            var to = PageEnd(page, timeframe);
            if (candles.Count > 0 || to > closedUntil)
            {
                continue;
            }

            result = result.Count > 0 && result[^1].To == from
                ? [.. result.Take(result.Count - 1), result[^1] with { To = to }]
                : [.. result, new EmptyRange(from, to)];
        }

        return result;
    }

    /// <summary>What the job's <c>lastError</c> says: the failure without a stack trace, its kind where the message alone is vague.</summary>
    private static string Describe(Exception e) => e switch
    {
        MalformedKlinesException or BinanceBannedException => e.Message,
        HttpRequestException { StatusCode: { } status } => $"Binance answered HTTP {(int)status} after retries: {e.Message}",
        HttpRequestException or TimeoutException => $"Binance unreachable after retries: {e.Message}",
        _ => e.Message,
    };

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId} {Symbol}/{Timeframe} started: {From:O} to {To:O}, {Expected} candles expected (term {Term})")]
    private static partial void LogStarted(ILogger logger, string jobId, string symbol, string timeframe, DateTimeOffset from, DateTimeOffset to, long expected, long term);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId} taken over from {Owner} (incarnation {Incarnation}, term {OldTerm}): resuming at {Cursor:O} (term {Term})")]
    private static partial void LogTakenOver(ILogger logger, string jobId, string owner, string incarnation, long oldTerm, DateTimeOffset cursor, long term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backfill job {JobId}: its heartbeat could not be stored ({Error}); trying again at the next beat")]
    private static partial void LogHeartbeatFailed(ILogger logger, string jobId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId}: {Fetched} of {Expected} candles fetched, {Written} written, cursor {Cursor:O}")]
    private static partial void LogProgress(ILogger logger, string jobId, long fetched, long expected, long written, DateTimeOffset cursor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId} stopped: it is now {State}")]
    private static partial void LogStopped(ILogger logger, string jobId, string state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backfill job {JobId} completed: {Written} candles written of {Fetched} fetched, weight {Weight}, {Seconds:F1} s; verification: {Verification}")]
    private static partial void LogCompleted(ILogger logger, string jobId, long written, long fetched, long weight, double seconds, string? verification);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backfill job {JobId} failed: {Error} ({Written} candles written of {Fetched} fetched, weight {Weight})")]
    private static partial void LogFailed(ILogger logger, string jobId, string error, long written, long fetched, long weight);
}
