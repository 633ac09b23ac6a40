using System.Text.Json.Serialization;
using DataManager.Candles;
using DataManager.Configuration;
using Microsoft.Extensions.Options;

namespace DataManager.Auditing;

/// <summary>The audit of one series over one window, in the shape of the CLI's JSON report.</summary>
public sealed record SeriesAuditReport : AuditFindings
{
    public required string Symbol { get; init; }

    public required string Timeframe { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    /// <summary>Duplicate rows deleted after the audit (the audit loop with ENABLE_DUPLICATE_REMOVAL).</summary>
    [JsonPropertyOrder(3)]
    public int DuplicatesRemoved { get; init; }

    /// <summary>Rows read in the window (including duplicates).</summary>
    [JsonPropertyOrder(4)]
    public long Rows { get; init; }

    /// <summary>Newest open time read, for freshness when a result is reused.</summary>
    [JsonPropertyOrder(4)]
    public DateTimeOffset? NewestOpen { get; init; }

    public static SeriesAuditReport Failed(SeriesKey series, DateTime from, DateTime to, string error) => new()
    {
        Symbol = series.Symbol,
        Timeframe = series.Timeframe.Name,
        From = Utc(from),
        To = Utc(to),
        Error = error,
    };

    public static SeriesAuditReport MissingTable(SeriesKey series, DateTime from, DateTime to) =>
        Failed(series, from, to, $"missing_table: {series.Timeframe.TableName} does not exist");

    internal static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));
}

/// <summary>
/// Audits one series without pulling its rows: the open times are streamed from the index into the scanner
/// (gaps, duplicates, completeness, freshness) while the database finds the integrity suspects by predicate,
/// in parallel; only the suspects' rows are fetched.
/// </summary>
public sealed class SeriesAuditor(ICandleSource candles, IOptions<AuditOptions> options)
{
    /// <summary>
    /// Anomalies are judged over the newest this-many candles of the window: every scheduled window (24 h of 1m
    /// is 1,440) and bounded time and memory for a CLI audit of millions of candles.
    /// </summary>
    public const int AnomalyCandles = 50_000;

    public async Task<SeriesAuditReport> AuditAsync(SeriesKey series, DateTime from, DateTime to, DateTime now, CancellationToken cancellationToken)
    {
        var interval = series.Timeframe.Interval;
        var grid = AuditGrid.For(from, to, interval);
        var scanner = new GapScanner(grid, GapRules.For(interval, options.Value.GapTolerance, options.Value.MinGapSize));
        var scan = candles.ScanOpenTimesAsync(series, grid.ReadFrom, grid.ReadTo, scanner.Add, cancellationToken);
        var suspects = candles.IntegritySuspectsAsync(series, grid.ReadFrom, grid.ReadTo, cancellationToken);
        var prices = new PriceSeries(Math.Min(AnomalyCandles, grid.Size + 1));
        var priceScan = candles.ScanPricesAsync(series, grid.ReadFrom, grid.ReadTo, AnomalyCandles, prices.Add, cancellationToken);
        await Task.WhenAll(scan, suspects, priceScan);
        if (scan.Result.TableMissing || suspects.Result.TableMissing || priceScan.Result.TableMissing)
        {
            return SeriesAuditReport.MissingTable(series, from, to);
        }

        var gaps = scanner.Finish();
        var rows = scan.Result.Value;
        IEnumerable<Candle> checkedRows = suspects.Result.Value;
        if (candles.IntegrityNeedsScanFindings && scanner.SuspectTimes.Count > 0)
        {
            // Off-grid timestamps and unconventional ids, found by the scan: fetched by open time and checked exactly.
            checkedRows = checkedRows.Concat((await candles.RowsAtAsync(series, scanner.SuspectTimes, cancellationToken)).Value);
        }

        var integrity = checkedRows
            .DistinctBy(c => c.Id, StringComparer.Ordinal)
            .OrderBy(c => c.Timestamp).ThenBy(c => c.Id, StringComparer.Ordinal)
            .SelectMany(c => IntegrityRules.Broken(c, interval).Select(rule => new IntegrityFinding(SeriesAuditReport.Utc(c.Timestamp), rule, c.Id)))
            .ToList();
        var surplus = (int)(rows - scanner.Distinct);
        var asOf = now < to ? now : to;
        return new SeriesAuditReport
        {
            Symbol = series.Symbol,
            Timeframe = series.Timeframe.Name,
            From = SeriesAuditReport.Utc(from),
            To = SeriesAuditReport.Utc(to),
            ExpectedCandles = grid.Size,
            ActualCandles = scanner.DistinctOnGrid,
            Gaps = gaps,
            Duplicates = scanner.Duplicates,
            DuplicateSurplus = surplus,
            Integrity = integrity,
            Anomalies = prices.Anomalies(options.Value.AnomalyThreshold),
            Health = HealthScoring.Score(scanner.DistinctOnGrid, grid.Size, gaps.Count, surplus, scanner.Newest, interval, asOf),
            Rows = rows,
            NewestOpen = scanner.Newest is { } newest ? SeriesAuditReport.Utc(newest) : null,
        };
    }

    /// <summary>Close and volume per candle as floats (enough for log returns, 12 bytes a candle), received newest first.</summary>
    private sealed class PriceSeries(int capacity)
    {
        private readonly List<long> _ticks = new(capacity);
        private readonly List<float> _closes = new(capacity);
        private readonly List<float> _volumes = new(capacity);

        public void Add(DateTime openTime, decimal close, decimal volume)
        {
            _ticks.Add(openTime.Ticks);
            _closes.Add((float)close);
            _volumes.Add((float)volume);
        }

        public IReadOnlyList<AnomalyFinding> Anomalies(double threshold)
        {
            var ticks = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ticks);
            var closes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_closes);
            var volumes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_volumes);
            ticks.Reverse();
            closes.Reverse();
            volumes.Reverse();
            return AnomalyDetector.Find(ticks, closes, volumes, threshold);
        }
    }

    /// <summary>A reused result judged again as of <paramref name="asOf"/>: only freshness moves with time.</summary>
    public static SeriesAuditReport Rescore(SeriesAuditReport report, TimeSpan interval, DateTime asOf) =>
        report.Error is not null ? report : report with
        {
            Health = HealthScoring.Score(report.ActualCandles, report.ExpectedCandles, report.Gaps.Count, report.DuplicateSurplus,
                report.NewestOpen?.UtcDateTime, interval, asOf),
        };
}
