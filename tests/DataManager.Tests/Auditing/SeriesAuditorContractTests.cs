using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace DataManager.Tests.Auditing;

/// <summary>The audit engine end to end on a real database: every rule, from rows the extractor could write.</summary>
public abstract class SeriesAuditorContractTests
{
    protected static readonly DateTime Day = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
    private static readonly Timeframe M15 = Timeframe.Parse("15m");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract Task<SqlCandleStore> CreateAsync(params Timeframe[] tables);

    private static SeriesAuditor Auditor(SqlCandleStore store) => new(store, Options.Create(new AuditOptions()));

    private static Candle At(Timeframe timeframe, DateTime open, string symbol = "BTCUSDT") =>
        DemoCandles.Make(symbol, timeframe, open, 100m, 102m, 99m, 101m, 10m, 5);

    private static List<Candle> Series(Timeframe timeframe, DateTime from, int count, string symbol = "BTCUSDT") =>
        [.. Enumerable.Range(0, count).Select(i => At(timeframe, from + (i * timeframe.Interval), symbol))];

    [Fact]
    public async Task The_worked_example_is_reported_exactly()
    {
        var store = await CreateAsync(M15);
        var rows = Series(M15, Day, 96).Where(c => c.OpenTime != Day.AddHours(10).AddMinutes(15)).ToList();
        rows.Add(rows.Single(c => c.OpenTime == Day.AddHours(11)) with { Id = "BTCUSDT-legacy-1100", ExtractedAt = Day.AddHours(11).AddMinutes(20) });
        rows[rows.FindIndex(c => c.OpenTime == Day.AddHours(12))] = rows.Single(c => c.OpenTime == Day.AddHours(12)) with { High = 100.5m };
        rows.Add(At(M15, Day.AddDays(1))); // the next day's candle: outside the window
        rows.AddRange(Series(M15, Day, 96, "ETHUSDT")); // another symbol: never mixed in
        await store.InsertIgnoreAsync(M15, rows, Ct);

        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Day.AddDays(1), Ct);

        Assert.Null(report.Error);
        Assert.Equal((96, 95, 96L), (report.ExpectedCandles, report.ActualCandles, report.Rows));
        Assert.Equal([new GapFinding(new(Day.AddHours(10).AddMinutes(15)), new(Day.AddHours(10).AddMinutes(15)), 1)], report.Gaps);
        Assert.Equal([new DuplicateFinding(new(Day.AddHours(11)), 2)], report.Duplicates);
        Assert.Equal(1, report.DuplicateSurplus);
        Assert.Equal([(new DateTimeOffset(Day.AddHours(12)), "ohlc_inconsistent")], report.Integrity.Select(i => (i.OpenTime, i.Rule)).ToArray());
        Assert.Equal(new HealthScore(98.96, 100, 85, 93.58, "healthy"), report.Health);
    }

    [Fact]
    public async Task Every_integrity_rule_is_found_including_rows_with_other_ids()
    {
        var store = await CreateAsync(M15);
        var rows = Series(M15, Day, 96);
        var cases = AuditRulesTests.BrokenCases;
        for (var i = 0; i < cases.Length; i++)
        {
            var index = 10 + (i * 8);
            var broken = AuditRulesTests.Break(rows[index], cases[i].How);
            // Half of them under a non-conventional id, as older extractor versions wrote.
            rows[index] = i % 2 == 0 ? broken : broken with { Id = $"legacy:{broken.Symbol}:{i}" };
        }

        await store.InsertIgnoreAsync(M15, rows, Ct);
        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Day.AddDays(1), Ct);

        var found = report.Integrity.Select(f => f.Rule).Order().ToArray();
        Assert.Equal(cases.Select(c => c.Rule).Order().ToArray(), found);
        Assert.All(report.Integrity, f => Assert.NotNull(f.RowId));
    }

    /// <summary>
    /// A row whose timestamp was corrected in place keeps an id of the extractor's form that names another time,
    /// possibly in the other half of the window (or before it): it is still checked, and its broken rule found.
    /// </summary>
    [Fact]
    public async Task A_broken_row_is_found_whatever_time_its_id_names()
    {
        var store = await CreateAsync(M15);
        var rows = Series(M15, Day, 96);
        (DateTime Timestamp, DateTime IdTime)[] moved =
        [
            (Day.AddHours(18), Day.AddHours(3)), // id in the first half of the window, timestamp in the second
            (Day.AddHours(2), Day.AddHours(20)), // and the other way round
            (Day.AddHours(23).AddMinutes(45), Day.AddDays(-3)), // id before the window
        ];
        foreach (var (timestamp, idTime) in moved)
        {
            var index = rows.FindIndex(c => c.OpenTime == timestamp);
            rows[index] = rows[index] with { Id = Candle.ConventionalId("BTCUSDT", idTime.AddMilliseconds(1)), High = 99.5m };
        }

        await store.InsertIgnoreAsync(M15, rows, Ct);
        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Day.AddDays(1), Ct);

        Assert.Equal(
            moved.Select(m => (new DateTimeOffset(m.Timestamp), "ohlc_inconsistent", Candle.ConventionalId("BTCUSDT", m.IdTime.AddMilliseconds(1)))).OrderBy(f => f.Item1),
            report.Integrity.Select(f => (f.OpenTime, f.Rule, f.RowId!)));
        Assert.Equal((96, 96, 0), (report.ExpectedCandles, report.ActualCandles, report.Gaps.Count));
    }

    /// <summary>
    /// The database's prefilter (SQL predicates) must select exactly the on-grid rows the client-side rules find
    /// broken: a row it misses is never checked. Every rule, each operand of it, and the values on each boundary.
    /// </summary>
    [Fact]
    public async Task The_integrity_prefilter_selects_exactly_the_rows_that_break_a_rule()
    {
        const decimal tick = 0.00000001m;
        Func<Candle, Candle>[] variants =
        [
            c => c,
            c => c with { High = c.Open - tick }, c => c with { High = c.Close - tick }, c => c with { High = c.Close }, c => c with { High = c.Low - tick },
            c => c with { Low = c.Open + tick }, c => c with { Low = c.Close + tick }, c => c with { Low = c.Open }, c => c with { Low = c.High + tick },
            c => c with { Low = 0m }, c => c with { Low = -1m }, c => c with { Low = tick },
            c => c with { Open = 0m, Low = 0m }, c => c with { Close = 0m, Low = 0m },
            c => c with { Volume = -1m }, c => c with { Volume = c.TakerBuyBaseAssetVolume }, c => c with { Volume = c.TakerBuyBaseAssetVolume - tick },
            c => c with { QuoteAssetVolume = -1m }, c => c with { QuoteAssetVolume = c.TakerBuyQuoteAssetVolume }, c => c with { QuoteAssetVolume = c.TakerBuyQuoteAssetVolume - tick },
            c => c with { TakerBuyBaseAssetVolume = -tick }, c => c with { TakerBuyBaseAssetVolume = 0m }, c => c with { TakerBuyBaseAssetVolume = c.Volume },
            c => c with { TakerBuyBaseAssetVolume = c.Volume + tick },
            c => c with { TakerBuyQuoteAssetVolume = -tick }, c => c with { TakerBuyQuoteAssetVolume = 0m }, c => c with { TakerBuyQuoteAssetVolume = c.QuoteAssetVolume },
            c => c with { TakerBuyQuoteAssetVolume = c.QuoteAssetVolume + tick },
            c => c with { Volume = 0m, QuoteAssetVolume = 0m, TakerBuyBaseAssetVolume = 0m, TakerBuyQuoteAssetVolume = 0m },
            c => c with { OpenTime = c.OpenTime.AddSeconds(-1) }, c => c with { OpenTime = c.OpenTime.AddMinutes(15) },
            c => c with { CloseTime = c.OpenTime + M15.Interval - TimeSpan.FromSeconds(2) }, c => c with { CloseTime = c.OpenTime + M15.Interval },
            c => c with { CloseTime = c.OpenTime + M15.Interval + TimeSpan.FromSeconds(1) }, c => c with { CloseTime = c.OpenTime },
            c => c with { CloseTime = c.OpenTime - TimeSpan.FromSeconds(1) }, c => c with { CloseTime = c.OpenTime + M15.Interval + TimeSpan.FromHours(1) },
        ];
        var store = await CreateAsync(M15);
        var rows = Series(M15, Day, variants.Length).Select((c, i) => variants[i](c)).ToList();
        await store.InsertIgnoreAsync(M15, rows, Ct);

        var suspects = await store.IntegritySuspectsAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Ct);

        var broken = rows.Where(c => IntegrityRules.Broken(c, M15.Interval).Any()).Select(c => c.Id).Order(StringComparer.Ordinal).ToArray();
        Assert.True(broken.Length > variants.Length / 2, "most variants break a rule");
        Assert.Equal(broken, suspects.Value.Select(c => c.Id).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task Three_way_duplicates_count_two_surplus_rows()
    {
        var store = await CreateAsync(M15);
        var rows = Series(M15, Day, 96);
        rows.Add(rows[40] with { Id = "dup-a" });
        rows.Add(rows[40] with { Id = "dup-b" });
        await store.InsertIgnoreAsync(M15, rows, Ct);

        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Day.AddDays(1), Ct);
        Assert.Equal([new DuplicateFinding(new(rows[40].OpenTime), 3)], report.Duplicates);
        Assert.Equal(2, report.DuplicateSurplus);
        Assert.Equal(90, report.Health!.Consistency);
    }

    [Fact]
    public async Task An_empty_window_is_one_gap_with_no_freshness()
    {
        var store = await CreateAsync(M15);
        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Day.AddDays(1), Ct);
        Assert.Equal([new GapFinding(new(Day), new(Day.AddHours(23).AddMinutes(45)), 96)], report.Gaps);
        Assert.Equal(new HealthScore(0, 0, 90, 36, "critical"), report.Health);
    }

    [Fact]
    public async Task Head_and_tail_gaps_and_a_stale_tail_lower_freshness()
    {
        var store = await CreateAsync(M15);
        await store.InsertIgnoreAsync(M15, Series(M15, Day.AddHours(1), 80), Ct); // 01:00 … 20:45
        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Day.AddDays(1), Ct);
        Assert.Equal(
        [
            new GapFinding(new(Day), new(Day.AddMinutes(45)), 4),
            new GapFinding(new(Day.AddHours(21)), new(Day.AddHours(23).AddMinutes(45)), 12),
        ], report.Gaps);
        Assert.Equal(0, report.Health!.Freshness);
    }

    [Fact]
    public async Task A_still_open_candle_after_the_grid_is_ignored()
    {
        var store = await CreateAsync(M15);
        await store.InsertIgnoreAsync(M15, Series(M15, Day, 42), Ct); // up to 10:15, which closes at 10:30
        var now = Day.AddHours(10).AddMinutes(20);
        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, now, now, Ct);
        Assert.Equal((41, 41), (report.ExpectedCandles, report.ActualCandles));
        Assert.Empty(report.Gaps);
        Assert.Equal(100, report.Health!.Quality);
    }

    [Fact]
    public async Task One_minute_and_one_day_series()
    {
        var m1 = Timeframe.Parse("1m");
        var d1 = Timeframe.Parse("1d");
        var store = await CreateAsync(m1, d1);
        await store.InsertIgnoreAsync(m1, Series(m1, Day, 180).Where(c => c.OpenTime < Day.AddMinutes(100) || c.OpenTime >= Day.AddMinutes(104)).ToList(), Ct);
        await store.InsertIgnoreAsync(d1, Series(d1, Day.AddDays(-30), 30).Where(c => c.OpenTime != Day.AddDays(-3)).ToList(), Ct);

        var minute = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", m1), Day, Day.AddHours(3), Day.AddHours(3), Ct);
        Assert.Equal([new GapFinding(new(Day.AddMinutes(100)), new(Day.AddMinutes(103)), 4)], minute.Gaps);
        Assert.Equal((180, 176), (minute.ExpectedCandles, minute.ActualCandles));

        var now = Day.AddHours(10); // today's daily candle has not closed: yesterday's is the newest, and fresh
        var daily = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", d1), Day.AddDays(-30), now, now, Ct);
        Assert.Equal([new GapFinding(new(Day.AddDays(-3)), new(Day.AddDays(-3)), 1)], daily.Gaps);
        Assert.Equal(100, daily.Health!.Freshness);
    }

    [Fact]
    public async Task A_price_spike_is_reported_without_touching_the_score()
    {
        var store = await CreateAsync(M15);
        var rows = Series(M15, Day, 96).Select((c, i) => c with { Close = 101m + ((i % 5) * 0.1m), High = 103m }).ToList();
        rows[50] = rows[50] with { Close = 140m, High = 141m };
        await store.InsertIgnoreAsync(M15, rows, Ct);
        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", M15), Day, Day.AddDays(1), Day.AddDays(1), Ct);
        Assert.Equal([(new DateTimeOffset(rows[50].OpenTime), "price_spike"), (new DateTimeOffset(rows[51].OpenTime), "price_spike")],
            report.Anomalies.Select(a => (a.OpenTime, a.Kind)).ToArray());
        Assert.Equal(100, report.Health!.Quality);
    }

    [Fact]
    public async Task A_missing_table_is_a_finding()
    {
        var store = await CreateAsync(M15);
        var report = await Auditor(store).AuditAsync(new SeriesKey("BTCUSDT", Timeframe.Parse("3m")), Day, Day.AddDays(1), Day.AddDays(1), Ct);
        Assert.StartsWith("missing_table", report.Error, StringComparison.Ordinal);
        Assert.Null(report.Health);
    }
}

[Trait("Category", "Server")]
public sealed class MariaDbSeriesAuditorTests(MariaDbServer server) : SeriesAuditorContractTests
{
    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables) => CandleDatabases.MariaDbAsync(server, tables);
}

public sealed class SqliteSeriesAuditorTests : SeriesAuditorContractTests, IDisposable
{
    private readonly string _directory = ServerAvailability.TempDirectory("dm-audit");

    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables) => CandleDatabases.SqliteAsync(_directory, tables);

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
