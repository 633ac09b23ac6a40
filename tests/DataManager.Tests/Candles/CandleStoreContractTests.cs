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
