using DataManager.Candles;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace DataManager.Tests.Candles;

/// <summary>The candle port on the extractor's schema, run on real MariaDB and on the embedded SQLite.</summary>
public abstract class CandleStoreContractTests
{
    protected static readonly Timeframe H1 = Timeframe.Parse("1h");
    protected static readonly DateTime Day = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A store over a fresh database holding the given tables.</summary>
    protected abstract Task<SqlCandleStore> CreateAsync(params Timeframe[] tables);

    protected static Candle At(string symbol, DateTime open, decimal close = 100m) =>
        DemoCandles.Make(symbol, H1, open, 100m, Math.Max(100m, close) + 1m, Math.Min(100m, close) - 1m, close, 10.5m, 3);

    [Fact]
    public async Task Insert_ignore_writes_each_id_once()
    {
        var store = await CreateAsync(H1);
        var candles = Enumerable.Range(0, 24).Select(h => At("BTCUSDT", Day.AddHours(h))).ToList();
        Assert.Equal(24, await store.InsertIgnoreAsync(H1, candles, Ct));
        Assert.Equal(0, await store.InsertIgnoreAsync(H1, candles, Ct));
        Assert.Equal(24, (await store.SummarizeAsync(new SeriesKey("BTCUSDT", H1), Day, Day.AddDays(1), Ct)).Value.Rows);
    }

    [Fact]
    public async Task Summary_counts_rows_and_distinct_open_times_in_the_window()
    {
        var store = await CreateAsync(H1);
        var candles = Enumerable.Range(0, 10).Select(h => At("BTCUSDT", Day.AddHours(h))).ToList();
        // Two more rows for 05:00 under other ids: duplicates are found by (symbol, timestamp), not by id.
        candles.Add(candles[5] with { Id = "legacy-1", ExtractedAt = Day.AddDays(1) });
        candles.Add(candles[5] with { Id = "legacy-2" });
        candles.Add(At("ETHUSDT", Day.AddHours(1)));
        await store.InsertIgnoreAsync(H1, candles, Ct);

        var summary = await store.SummarizeAsync(new SeriesKey("BTCUSDT", H1), Day.AddHours(1), Day.AddHours(9), Ct);
        Assert.False(summary.TableMissing);
        Assert.Equal(10, summary.Value.Rows);
        Assert.Equal(8, summary.Value.DistinctOpenTimes);
        Assert.Equal(Day.AddHours(1), summary.Value.FirstOpen);
        Assert.Equal(Day.AddHours(8), summary.Value.LastOpen);
        Assert.Equal(Day.AddDays(1), summary.Value.LastExtractedAt);
        Assert.Equal(DateTimeKind.Utc, summary.Value.FirstOpen!.Value.Kind);
    }

    [Fact]
    public async Task An_empty_window_has_no_bounds()
    {
        var store = await CreateAsync(H1);
        var summary = await store.SummarizeAsync(new SeriesKey("BTCUSDT", H1), Day, Day.AddDays(1), Ct);
        Assert.Equal(SeriesSummary.Empty, summary.Value);
    }

    [Fact]
    public async Task A_missing_table_is_reported_not_thrown()
    {
        var store = await CreateAsync(H1);
        var m3 = Timeframe.Parse("3m");
        var summary = await store.SummarizeAsync(new SeriesKey("BTCUSDT", m3), Day, Day.AddDays(1), Ct);
        Assert.True(summary.TableMissing);
        var latest = await store.ReadLatestAsync(new SeriesKey("BTCUSDT", m3), 10, Day, Ct);
        Assert.True(latest.TableMissing);
        Assert.Empty(latest.Value);
    }

    [Fact]
    public async Task Read_latest_returns_the_newest_closed_candles_oldest_first_with_exact_decimals()
    {
        var store = await CreateAsync(H1);
        var exact = At("BTCUSDT", Day.AddHours(3), 97000.12345678m) with { PriceChange = null, PriceChangePercent = -1.2345m };
        await store.InsertIgnoreAsync(H1, [At("BTCUSDT", Day), At("BTCUSDT", Day.AddHours(1)), At("BTCUSDT", Day.AddHours(2)), exact, At("BTCUSDT", Day.AddHours(4))], Ct);

        var latest = await store.ReadLatestAsync(new SeriesKey("BTCUSDT", H1), 3, Day.AddHours(4), Ct);
        Assert.Equal([Day.AddHours(1), Day.AddHours(2), Day.AddHours(3)], latest.Value.Select(c => c.OpenTime).ToArray());
        var read = latest.Value[^1];
        Assert.Equal(exact with { }, read);
        Assert.Equal(97000.12345678m, read.Close);
        Assert.Null(read.PriceChange);
        Assert.Equal(-1.2345m, read.PriceChangePercent);
    }

    [Fact]
    public async Task The_ohlcv_read_of_many_symbols_equals_read_latest_of_each()
    {
        var store = await CreateAsync(H1);
        var rows = new List<Candle>();
        // 150 symbols (two queries of 100): full ones, one with gaps, one with a duplicate, one shorter than asked,
        // one whose newest rows lie past the cut-off, and one with no rows at all.
        var symbols = Enumerable.Range(0, 150).Select(i => $"S{i:D3}USDT").ToList();
        foreach (var (symbol, i) in symbols.Select((s, i) => (s, i)))
        {
            var hours = i switch { 1 => 3, 2 => 0, _ => 30 };
            rows.AddRange(Enumerable.Range(0, hours).Where(h => i != 3 || h % 4 != 0).Select(h => At(symbol, Day.AddHours(h), 100m + i + (h * 0.01m))));
        }

        rows.Add(At("S004USDT", Day.AddHours(27), 99m) with { Id = "S004USDT-legacy" }); // a second row at 27:00
        rows.Add(At("S005USDT", Day.AddHours(40))); // after the cut-off: not read
        await store.InsertIgnoreAsync(H1, rows, Ct);

        var before = Day.AddHours(30);
        var read = await store.ReadLatestOhlcvAsync(H1, [.. symbols, "S000USDT"], 10, before, Ct);

        Assert.False(read.TableMissing);
        Assert.Equal(150, read.Value.Count);
        foreach (var symbol in symbols)
        {
            var expected = (await store.ReadLatestAsync(new SeriesKey(symbol, H1), 10, before, Ct)).Value;
            var actual = read.Value[symbol];
            Assert.Equal(expected.Select(c => c.Timestamp), actual.OpenTimes);
            Assert.Equal(DateTimeKind.Utc, actual.OpenTimes.FirstOrDefault(DateTime.SpecifyKind(default, DateTimeKind.Utc)).Kind);
            Assert.Equal(expected.Select(c => (double)c.Open), actual.Open);
            Assert.Equal(expected.Select(c => (double)c.High), actual.High);
            Assert.Equal(expected.Select(c => (double)c.Low), actual.Low);
            Assert.Equal(expected.Select(c => (double)c.Close), actual.Close);
            Assert.Equal(expected.Select(c => (double)c.Volume), actual.Volume);
        }

        Assert.Equal(10, read.Value["S000USDT"].Count);
        Assert.Equal(3, read.Value["S001USDT"].Count);
        Assert.Same(OhlcvRows.Empty, read.Value["S002USDT"]);
        Assert.Equal((10, Day.AddHours(17)), (read.Value["S003USDT"].Count, read.Value["S003USDT"].OpenTimes[0])); // 28, 24, 20 missing
        Assert.Equal(2, read.Value["S004USDT"].OpenTimes.Count(t => t == Day.AddHours(27)));
        Assert.Equal(Day.AddHours(29), read.Value["S005USDT"].OpenTimes[^1]);
        Assert.Equal(100.29, read.Value["S000USDT"].Close[^1]);
    }

    [Fact]
    public async Task The_ohlcv_read_returns_the_doubles_of_the_exact_decimals_at_every_magnitude()
    {
        var store = await CreateAsync(H1);
        // The smallest step, 19 and 20 significant digits (the packed read's two parsers), trailing zeros, an
        // integer price, a price with no fraction digits set and a long repeating fraction.
        decimal[] closes = [0.00000001m, 12345678901.12345678m, 999999999999.99999999m, 97000.12345678m, 3m, 100.10000000m, 0.33333333m, 1e-8m * 7];
        var rows = closes.Select((close, i) => DemoCandles.Make("BTCUSDT", H1, Day.AddHours(i), close, close, close, close, 0.00000001m * (i + 1), 1)).ToList();
        await store.InsertIgnoreAsync(H1, rows, Ct);

        var before = Day.AddHours(closes.Length);
        var expected = (await store.ReadLatestAsync(new SeriesKey("BTCUSDT", H1), 100, before, Ct)).Value;
        var actual = (await store.ReadLatestOhlcvAsync(H1, ["BTCUSDT"], 100, before, Ct)).Value["BTCUSDT"];

        Assert.Equal(closes.Select(c => (double)c), actual.Close);
        Assert.Equal(expected.Select(c => (double)c.Close), actual.Close);
        Assert.Equal(expected.Select(c => (double)c.Open), actual.Open);
        Assert.Equal(expected.Select(c => (double)c.Volume), actual.Volume);
        Assert.Equal(expected.Select(c => c.Timestamp), actual.OpenTimes);
    }

    [Fact]
    public async Task The_ohlcv_read_of_the_whole_lookback_is_not_cut_short()
    {
        // 10,000 candles of 20-digit prices: the longest packed text the read asks for (well past GROUP_CONCAT's default 1,024 bytes).
        var store = await CreateAsync(H1);
        var rows = Enumerable.Range(0, 10_000).Select(h => DemoCandles.Make("BTCUSDT", H1, Day.AddHours(h), 999999999999.99999999m - h, 999999999999.99999999m,
            999999999998.12345678m, 999999999999.00000001m - h, 999999999999.99999999m, 1)).ToList();
        await store.InsertIgnoreAsync(H1, rows, Ct);

        var before = Day.AddHours(10_000);
        var expected = (await store.ReadLatestAsync(new SeriesKey("BTCUSDT", H1), 10_000, before, Ct)).Value;
        var actual = (await store.ReadLatestOhlcvAsync(H1, ["BTCUSDT"], 10_000, before, Ct)).Value["BTCUSDT"];

        Assert.Equal(10_000, actual.Count);
        Assert.Equal(expected.Select(c => (double)c.Open), actual.Open);
        Assert.Equal(expected.Select(c => (double)c.Close), actual.Close);
        Assert.Equal(expected.Select(c => c.Timestamp), actual.OpenTimes);
    }

    [Fact]
    public async Task The_ohlcv_read_reports_a_missing_table()
    {
        var store = await CreateAsync(H1);
        var read = await store.ReadLatestOhlcvAsync(Timeframe.Parse("3m"), ["BTCUSDT"], 10, Day, Ct);
        Assert.True(read.TableMissing);
        Assert.Empty(read.Value);
    }

    [Fact]
    public async Task Symbols_are_parameters_not_sql()
    {
        var store = await CreateAsync(H1);
        await store.InsertIgnoreAsync(H1, [At("BTCUSDT", Day)], Ct);
        var summary = await store.SummarizeAsync(new SeriesKey("x' OR '1'='1", H1), Day.AddYears(-1), Day.AddYears(1), Ct);
        Assert.Equal(0, summary.Value.Rows);
    }

    [Fact]
    public async Task Ping_answers()
    {
        var store = await CreateAsync(H1);
        await store.PingAsync(Ct);
    }
}

[Trait("Category", "Server")]
public sealed class MariaDbCandleStoreTests(MariaDbServer server) : CandleStoreContractTests
{
    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables) => CandleDatabases.MariaDbAsync(server, tables);

    [Fact]
    public async Task An_unreachable_server_throws_a_connection_error_not_a_missing_table()
    {
        var store = new SqlCandleStore(new MySqlCandleDialect($"Server=127.0.0.1;Port={ServerAvailability.FreePort()};User ID=root;Connection Timeout=2"), NullLogger<SqlCandleStore>.Instance);
        await Assert.ThrowsAsync<MySqlConnector.MySqlException>(() => store.SummarizeAsync(new SeriesKey("BTCUSDT", H1), Day, Day.AddDays(1), TestContext.Current.CancellationToken));
    }
}

public sealed class SqliteCandleStoreTests : CandleStoreContractTests, IDisposable
{
    private readonly string _directory = ServerAvailability.TempDirectory("dm-sqlite-candles");

    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables) => CandleDatabases.SqliteAsync(_directory, tables);

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
