using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace DataManager.Tests.Auditing;

/// <summary>
/// /metrics at thousands of series: only the health score has a series for every audited series; the problem
/// families have one only where a problem was seen, and a current-problem gauge goes away when the problem does.
/// </summary>
public sealed class AuditMetricsCardinalityTests : IDisposable
{
    private static readonly Timeframe H1 = Timeframe.Parse("1h");
    private static readonly DateTime Day = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-cardinality");

    private readonly string _clean = "CLEANUSDT";
    private readonly string _gappy = "GAPPYUSDT";
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_healthy_series_costs_one_line_and_a_closed_gap_leaves_no_open_gap_series()
    {
        var candles = await CandleDatabases.SqliteAsync(_directory, H1);
        var missing = Day.AddHours(10);
        List<Candle> Series(string symbol) => [.. Enumerable.Range(0, 24).Select(i => DemoCandles.Make(symbol, H1, Day.AddHours(i), 1m, 2m, 0.5m, 1.5m, 1m, 1))];
        await candles.InsertIgnoreAsync(H1, [.. Series(_clean), .. Series(_gappy).Where(c => c.OpenTime != missing)], Ct);
        var store = new SqliteTestStore(Path.Combine(_directory, "store.db"));
        await store.InitializeAsync(Ct);
        var time = new FakeTimeProvider(new DateTimeOffset(Day.AddDays(1).AddMinutes(1)));
        var scheduler = AuditLoopTests.Scheduler(candles, store, time,
            new SeriesOptions { PairsConfigured = true, SupportedPairs = [_clean, _gappy], SupportedTimeframes = [H1] }, new CandleDatabaseOptions(),
            metrics: new AuditMetrics(Metrics.WithCustomRegistry(_registry)));

        await scheduler.RunCycleAsync(1, Ct);
        var clean = await LinesAsync(_clean);
        Assert.Equal(["data_manager_audit_health_score"], clean);
        var gappy = await LinesAsync(_gappy);
        Assert.Contains("data_manager_audit_open_gaps", gappy);
        Assert.Contains("data_manager_audit_gaps_detected_total", gappy);

        await candles.InsertIgnoreAsync(H1, [.. Series(_gappy).Where(c => c.OpenTime == missing)], Ct); // the gap is backfilled
        time.Advance(TimeSpan.FromSeconds(30));
        await scheduler.RunCycleAsync(1, Ct);
        gappy = await LinesAsync(_gappy);
        Assert.DoesNotContain("data_manager_audit_open_gaps", gappy);
        Assert.Contains("data_manager_audit_gaps_detected_total", gappy); // a counter stays: it only ever grows
        Assert.Equal(["data_manager_audit_health_score"], await LinesAsync(_clean));
    }

    /// <summary>The metric names that have a series labelled with <paramref name="symbol"/>.</summary>
    private async Task<string[]> LinesAsync(string symbol)
    {
        using var stream = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(stream, Ct);
        var text = System.Text.Encoding.UTF8.GetString(stream.ToArray());
        return [.. text.Split('\n').Where(l => l.Contains($"symbol=\"{symbol}\"", StringComparison.Ordinal)).Select(l => l[..l.IndexOf('{', StringComparison.Ordinal)]).Distinct().Order(StringComparer.Ordinal)];
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
