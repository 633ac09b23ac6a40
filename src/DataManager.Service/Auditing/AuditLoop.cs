using System.Collections.Concurrent;
using System.Globalization;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.Extensions.Options;
using Prometheus;

namespace DataManager.Auditing;

/// <summary>
/// What the audit needs to know of the exchange: the ranges of a series Binance has confirmed it has no candles
/// for (an outage, a time before the listing). A gap inside them is the source's, not ours, and is reported
/// <c>sourceEmpty</c>. The store answers from the backfill jobs that found them, in one indexed query.
/// </summary>
public interface IConfirmedEmptyRanges
{
    /// <summary>The confirmed-empty ranges of <paramref name="series"/> that overlap <c>[from, to)</c>, ordered by start.</summary>
    Task<IReadOnlyList<EmptyRange>> OverlappingAsync(SeriesKey series, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);
}

/// <summary>
/// The leader-only audit loop. Each cycle audits every scheduled series over the last window with bounded
/// parallelism; a series whose signature and grid have not changed since its last audit is not re-scanned
/// (its result is reused and only freshness is judged again). A failing series is recorded and does not stop
/// the others. Gaps inside ranges Binance confirmed empty are marked <c>sourceEmpty</c>. Records carry the leader's
/// term. What is done about the gaps is not the audit's business: the auto-backfill loop reads the records.
/// </summary>
public sealed partial class AuditLoop(
    SeriesAuditor auditor,
    DuplicateRemover duplicateRemover,
    IConfirmedEmptyRanges confirmedEmpty,
    ICandleSource candles,
    IAuditStore audits,
    IHealthScoreStore healthScores,
    IOptions<AuditOptions> options,
    IOptions<SeriesOptions> seriesOptions,
    IOptions<CandleDatabaseOptions> candleOptions,
    IOptions<ServiceOptions> service,
    CandleReadiness candleReadiness,
    AuditMetrics metrics,
    TimeProvider time,
    ILogger<AuditLoop> logger) : ILeaderLoop
{
    private readonly ConcurrentDictionary<SeriesKey, CachedAudit> _cache = new();
    private readonly ConcurrentDictionary<SeriesKey, SeriesAuditReport> _previous = new();
    private int _running;

    public string Name => "audit";

    public TimeSpan InitialDelay => options.Value.InitialDelay;

    public TimeSpan Interval => options.Value.Interval;

    public bool IsRunning => Volatile.Read(ref _running) == 1;

    public IReadOnlyList<SeriesKey> Series => seriesOptions.Value.Scheduled(candleOptions.Value.IsEmbedded);

    public Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken) => RunCycleAsync(leadership.Term, cancellationToken);

    /// <summary>One cycle; returns its summary as stored.</summary>
    public async Task<AuditCycleRecord> RunCycleAsync(long term, CancellationToken cancellationToken)
    {
        await candleReadiness.WaitAsync(cancellationToken); // the embedded demo is seeded first
        var started = time.GetUtcNow();
        var startedTimestamp = time.GetTimestamp();
        var cycle = new AuditCycleRecord
        {
            Id = started.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8],
            Term = term,
            Leader = service.Value.PodId,
            StartedAt = started,
        };
        Interlocked.Exchange(ref _running, 1);
        try
        {
            await audits.SaveCycleAsync(cycle, cancellationToken);
            var now = started.UtcDateTime;
            var reports = new ConcurrentBag<(SeriesAuditReport Report, bool Reused)>();
            var signatures = await SignaturesAsync(Series, now, cancellationToken);
            await Parallel.ForEachAsync(Series, CandleReadParallelism.Options(cancellationToken),
                async (series, token) => reports.Add(await AuditSeriesAsync(series, now - options.Value.WindowFor(series.Timeframe), now, term,
                    signatures.TryGetValue(series, out var signature) ? signature : null, token)));

            var records = reports.Select(r => ToRecord(r.Report, cycle, started)).OrderBy(r => r.Symbol, StringComparer.Ordinal).ThenBy(r => r.Timeframe, StringComparer.Ordinal).ToList();
            await audits.InsertAsync(records, cancellationToken);
            await healthScores.AppendAsync([.. records.Where(r => r.Health is not null).Select(r => new HealthScoreRecord
            {
                Id = r.Id,
                Symbol = r.Symbol,
                Timeframe = r.Timeframe,
                At = r.AuditedAt,
                Term = term,
                Health = r.Health!,
            })], cancellationToken);

            var finished = time.GetUtcNow();
            var elapsed = time.GetElapsedTime(startedTimestamp);
            cycle = cycle with
            {
                FinishedAt = finished,
                SeriesAudited = records.Count,
                Gaps = records.Sum(r => r.Gaps.Count),
                DuplicateSurplus = records.Sum(r => r.DuplicateSurplus),
                IntegrityViolations = records.Sum(r => r.Integrity.Count),
                Errors = records.Count(r => r.Error is not null),
                NextCycleAt = finished + options.Value.Interval,
            };
            await audits.SaveCycleAsync(cycle, cancellationToken);
            UpdateMetrics(reports.Select(r => r.Report));
            metrics.CycleSeconds.Observe(elapsed.TotalSeconds);
            metrics.LastCycleSeriesErrors.Set(cycle.Errors);
            metrics.LastCycleSeries.Set(cycle.SeriesAudited);
            if (Succeeded(cycle))
            {
                metrics.LastSuccess.Set(finished.ToUnixTimeMilliseconds() / 1000.0);
            }

            var retention = finished - TimeSpan.FromDays(options.Value.RetentionDays);
            await audits.PruneAsync(retention, cancellationToken);
            await healthScores.PruneAsync(retention, cancellationToken);

            var firstError = records.FirstOrDefault(r => r.Error is not null);
            LogCycle(logger, cycle.Id, term, records.Count, reports.Count(r => r.Reused), cycle.Gaps, cycle.DuplicateSurplus, cycle.IntegrityViolations,
                cycle.Errors, firstError is null ? "" : $" (first error: {firstError.Symbol}/{firstError.Timeframe}: {firstError.Error})", elapsed.TotalSeconds);
            return cycle;
        }
        finally
        {
            Interlocked.Exchange(ref _running, 0);
        }
    }

    /// <summary>
    /// A cycle succeeds only when it audited every series it scheduled: one whose series failed (MySQL down, a
    /// missing table) must not keep the stale-audit alert quiet.
    /// </summary>
    public static bool Succeeded(AuditCycleRecord cycle) => cycle.FinishedAt is not null && cycle.SeriesAudited > 0 && cycle.Errors == 0;

    /// <summary>
    /// Every series' signature, one query per timeframe table and 200 symbols (they share the window). A chunk that
    /// cannot be read here is left out: its series ask for their own signature and report their own error.
    /// </summary>
    private async Task<Dictionary<SeriesKey, CandleResult<SeriesSignature>>> SignaturesAsync(IReadOnlyList<SeriesKey> series, DateTime now, CancellationToken cancellationToken)
    {
        // Chunks of 200 symbols, four at a time: the checksum is the database's CPU, so both cores share it.
        var signatures = new ConcurrentDictionary<SeriesKey, CandleResult<SeriesSignature>>();
        var chunks = series.GroupBy(s => s.Timeframe).SelectMany(table => table.Chunk(200).Select(chunk => (Timeframe: table.Key, Series: chunk)));
        await Parallel.ForEachAsync(chunks, CandleReadParallelism.Options(cancellationToken), async (chunk, token) =>
        {
            var grid = AuditGrid.For(now - options.Value.WindowFor(chunk.Timeframe), now, chunk.Timeframe.Interval);
            try
            {
                var read = await candles.SignaturesAsync(chunk.Timeframe, [.. chunk.Series.Select(s => s.Symbol)], grid.ReadFrom, grid.ReadTo, token);
                foreach (var key in chunk.Series)
                {
                    signatures[key] = new CandleResult<SeriesSignature>(read.Value.GetValueOrDefault(key.Symbol) ?? new SeriesSignature(0, null, null, 0), read.TableMissing);
                }
            }
            catch (Exception) when (!token.IsCancellationRequested)
            {
            }
        });

        return new Dictionary<SeriesKey, CandleResult<SeriesSignature>>(signatures);
    }

    private async Task<(SeriesAuditReport Report, bool Reused)> AuditSeriesAsync(SeriesKey series, DateTime from, DateTime now, long term,
        CandleResult<SeriesSignature>? prefetched, CancellationToken cancellationToken)
    {
        try
        {
            var grid = AuditGrid.For(from, now, series.Timeframe.Interval);
            var signature = prefetched ?? await candles.SignatureAsync(series, grid.ReadFrom, grid.ReadTo, cancellationToken);
            if (signature.TableMissing)
            {
                return (SeriesAuditReport.MissingTable(series, from, now), false);
            }

            if (_cache.TryGetValue(series, out var cached) && cached.Grid == grid && cached.Signature == signature.Value)
            {
                var reused = SeriesAuditor.Rescore(cached.Report, series.Timeframe.Interval, now) with
                {
                    From = SeriesAuditReport.Utc(from),
                    To = SeriesAuditReport.Utc(now),
                };
                return (await MarkSourceEmptyAsync(series, reused, cancellationToken), true);
            }

            var report = await auditor.AuditAsync(series, from, now, now, cancellationToken);
            if (report.Error is null)
            {
                _cache[series] = new CachedAudit(grid, signature.Value, report);
            }

            report = await MarkSourceEmptyAsync(series, report, cancellationToken);

            if (report.Duplicates.Count > 0 && duplicateRemover.Enabled)
            {
                try
                {
                    report = report with { DuplicatesRemoved = await duplicateRemover.RemoveAsync(series, report.Duplicates, term, cancellationToken) };
                    _cache.TryRemove(series, out _); // the rows changed: audit afresh next cycle
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    report = report with { Error = "duplicate removal failed: " + e.Message };
                }
            }

            return (report, false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return (SeriesAuditReport.Failed(series, from, now, e.Message), false);
        }
    }

    /// <summary>One query for a series with gaps (none for the others): the confirmed-empty ranges over its gaps.</summary>
    private async Task<SeriesAuditReport> MarkSourceEmptyAsync(SeriesKey series, SeriesAuditReport report, CancellationToken cancellationToken)
    {
        if (report.Gaps.Count == 0)
        {
            return report;
        }

        var (from, to) = SourceEmptyGaps.Span(report.Gaps, series.Timeframe.Interval);
        var empty = await confirmedEmpty.OverlappingAsync(series, from, to, cancellationToken);
        return report with { Gaps = SourceEmptyGaps.Mark(report.Gaps, series.Timeframe.Interval, empty) };
    }

    // The findings come with the report; the record adds which audit it is, of what and when.
    private static AuditRecord ToRecord(SeriesAuditReport report, AuditCycleRecord cycle, DateTimeOffset auditedAt) => new(report)
    {
        Id = Guid.NewGuid().ToString("N"),
        CycleId = cycle.Id,
        Term = cycle.Term,
        Symbol = report.Symbol,
        Timeframe = report.Timeframe,
        WindowFrom = report.From,
        WindowTo = report.To,
        AuditedAt = auditedAt,
        DuplicatesRemoved = report.DuplicatesRemoved,
    };

    private void UpdateMetrics(IEnumerable<SeriesAuditReport> reports)
    {
        foreach (var report in reports)
        {
            var key = new SeriesKey(report.Symbol, Timeframe.Parse(report.Timeframe));
            if (report.Error is not null)
            {
                metrics.SeriesErrors.WithLabels(report.Symbol, report.Timeframe).Inc();
                continue;
            }

            _previous.TryGetValue(key, out var previous);
            // Count what is new since the previous audit of the series, so an open gap is not counted every cycle.
            var newGaps = report.Gaps.Count(g => previous?.Gaps.Any(p => p.From == g.From && p.To == g.To) != true);
            var newSurplus = report.Duplicates.Sum(d => d.Rows - 1 - (previous?.Duplicates.FirstOrDefault(p => p.OpenTime == d.OpenTime)?.Rows - 1 ?? 0));
            // Cardinality: only the health score exists for every series; the problem families have a series
            // only where a problem was seen, so thousands of healthy series cost one line each on /metrics.
            if (newGaps > 0)
            {
                metrics.GapsDetected.WithLabels(report.Symbol, report.Timeframe).Inc(newGaps);
            }

            if (newSurplus > 0)
            {
                metrics.DuplicatesDetected.WithLabels(report.Symbol, report.Timeframe).Inc(newSurplus);
            }

            foreach (var finding in report.Integrity.Where(f => previous?.Integrity.Contains(f) != true))
            {
                metrics.IntegrityViolations.WithLabels(report.Symbol, report.Timeframe, finding.Rule).Inc();
            }

            SetOrRemove(metrics.OpenGaps, report, report.Gaps.Count);
            SetOrRemove(metrics.OpenGapSeconds, report, report.Gaps.Sum(g => g.MissingCandles) * key.Timeframe.Interval.TotalSeconds);
            SetOrRemove(metrics.DuplicateSurplus, report, report.DuplicateSurplus);
            metrics.HealthScore.WithLabels(report.Symbol, report.Timeframe).Set(report.Health?.Quality ?? 0);
            _previous[key] = report;
        }
    }

    /// <summary>A current-problem gauge has a series while the problem lasts; at zero it is removed, not kept at 0.</summary>
    private static void SetOrRemove(Gauge gauge, SeriesAuditReport report, double value)
    {
        if (value > 0)
        {
            gauge.WithLabels(report.Symbol, report.Timeframe).Set(value);
        }
        else
        {
            gauge.RemoveLabelled(report.Symbol, report.Timeframe);
        }
    }

    private sealed record CachedAudit(AuditGrid Grid, SeriesSignature Signature, SeriesAuditReport Report);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Audit cycle {CycleId:l} (term {Term}): {Series} series ({Reused} unchanged), {Gaps} gaps, {DuplicateSurplus} duplicate rows, {Integrity} integrity violations, {Errors} errors{FirstError:l} in {Seconds:F2} s")]
    private static partial void LogCycle(ILogger logger, string cycleId, long term, int series, int reused, int gaps, int duplicateSurplus, int integrity, int errors, string firstError, double seconds);
}
