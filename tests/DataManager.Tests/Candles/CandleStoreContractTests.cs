using DataManager.Candles;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace DataManager.Tests.Candles;

/// <summary>The candle port on the extractor's schema, run on real MariaDB and on the embedded SQLite.</summary>
public abstract class CandleStoreContractTests
{
    protected static readonly Timeframe H1 = Timeframe.Parse("1h");
    protected static readonly DateTime Day = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

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
            // Rows at one open time come in no promised order: AssertNewestAsync compares each open time's rows as a set.
            var actual = read.Value[symbol];
            await AssertNewestAsync(store, symbol, 10, before, actual);
            Assert.Equal(DateTimeKind.Utc, actual.OpenTimes.FirstOrDefault(DateTime.SpecifyKind(default, DateTimeKind.Utc)).Kind);
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
    public async Task The_ohlcv_read_is_the_plain_newest_rows_on_adversarial_ids_and_times()
    {
        var store = await CreateAsync(H1);
        var before = Day.AddHours(30);
        var rows = new List<Candle>();
        IEnumerable<Candle> Hours(string symbol, int from, int to, decimal price = 100m) =>
            Enumerable.Range(from, to - from).Select(h => At(symbol, Day.AddHours(h), price + (h * 0.01m)));

        rows.AddRange(Hours("FULLUSDT", -10, 40));
        rows.AddRange(Hours("SHORTUSDT", 27, 30));
        rows.AddRange(Hours("GAPUSDT", 0, 30).Where(c => c.Timestamp != Day.AddHours(25)));
        rows.AddRange(Hours("HOLEUSDT", -60, 30).Where(c => c.Timestamp.Hour % 3 == 0));
        // Extra rows at 20:00 (the 10th newest open time) under ids below, inside and above the conventional range.
        rows.AddRange(Hours("TIEUSDT", 0, 30));
        rows.Add(At("TIEUSDT", Day.AddHours(20), 91m) with { Id = "TIEUSDT-legacy-20" });
        rows.Add(At("TIEUSDT", Day.AddHours(20), 92m) with { Id = Candle.ConventionalId("TIEUSDT", Day.AddHours(20)) + "b" });
        rows.Add(At("TIEUSDT", Day.AddHours(20), 93m) with { Id = "TIEUSDT~20" });
        // A second row at 27:00: the window of the newest 10 open times holds 11 rows.
        rows.AddRange(Hours("MIDUSDT", 0, 30));
        rows.Add(At("MIDUSDT", Day.AddHours(27), 99m) with { Id = "legacy-mid-27" });
        // 300 rows at 25:00: more text than the packed read's limit for 10 or 30 candles.
        rows.AddRange(Hours("MANYUSDT", 0, 30));
        rows.AddRange(Enumerable.Range(0, 300).Select(i => At("MANYUSDT", Day.AddHours(25), 50m + i) with { Id = $"MANYUSDT-dup-{i:D3}" }));
        // Ids whose time disagrees with the row's: older, newer, inside the window at another time, and a row
        // before the window whose id lies inside the window's id range.
        rows.AddRange(Hours("SKEWUSDT", 0, 27));
        rows.Add(At("SKEWUSDT", Day.AddHours(29), 129m) with { Id = Candle.ConventionalId("SKEWUSDT", Day.AddHours(-50)) });
        rows.Add(At("SKEWUSDT", Day.AddHours(28), 128m) with { Id = Candle.ConventionalId("SKEWUSDT", Day.AddHours(100)) });
        rows.Add(At("SKEWUSDT", Day.AddHours(27), 127m) with { Id = Candle.ConventionalId("SKEWUSDT", Day.AddHours(20.5)) });
        rows.Add(At("SKEWUSDT", Day.AddHours(-20), 80m) with { Id = Candle.ConventionalId("SKEWUSDT", Day.AddHours(25.5)) });
        // Only conventional-range ids, one of them out of time order: the newest row's id sorts among the oldest.
        rows.AddRange(Hours("ORDERUSDT", 0, 29));
        rows.Add(At("ORDERUSDT", Day.AddHours(29), 129m) with { Id = Candle.ConventionalId("ORDERUSDT", Day.AddHours(20.5)) });
        // Legacy ids for the newest rows, conventional ones before: both parts of the window hold rows.
        rows.AddRange(Hours("MIXUSDT", 0, 30).Select(c => c.Timestamp >= Day.AddHours(23) ? c with { Id = $"MIXUSDT-{c.Timestamp:HH}" } : c));
        // Other id formats: seconds instead of milliseconds, another separator, a bare number.
        rows.AddRange(Hours("SECUSDT", 0, 30).Select(c => c with { Id = $"SECUSDT_{new DateTimeOffset(c.Timestamp).ToUnixTimeSeconds()}" }));
        rows.AddRange(Hours("DASHUSDT", 0, 30).Select(c => c with { Id = $"DASHUSDT-{new DateTimeOffset(c.Timestamp).ToUnixTimeMilliseconds()}" }));
        rows.AddRange(Hours("NUMUSDT", 0, 30).Select((c, i) => c with { Id = (9_000_000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        // A symbol that is a prefix of another, and a row of ETHUSDT whose id lies in BTCUSDT's range.
        rows.AddRange(Hours("BTCUSDT", 0, 30, 90_000m));
        rows.AddRange(Hours("BTCUSDT_250328", 0, 30, 91_000m));
        rows.AddRange(Hours("ETHUSDT", 0, 29, 3_000m));
        rows.Add(At("ETHUSDT", Day.AddHours(29), 3_029m) with { Id = Candle.ConventionalId("BTCUSDT", Day.AddHours(25.5)) });
        // Rows at exactly the cut-off and after it are not read.
        rows.AddRange(Hours("EDGEUSDT", 0, 35));
        await store.InsertIgnoreAsync(H1, rows, Ct);

        string[] symbols = ["FULLUSDT", "SHORTUSDT", "NONEUSDT", "GAPUSDT", "TIEUSDT", "MIDUSDT", "MANYUSDT", "SKEWUSDT", "SECUSDT", "DASHUSDT",
            "NUMUSDT", "BTCUSDT", "BTCUSDT_250328", "ETHUSDT", "EDGEUSDT", "ORDERUSDT", "HOLEUSDT", "MIXUSDT"];
        foreach (var count in new[] { 1, 3, 5, 10, 11, 30, 60 })
        {
            var read = await store.ReadLatestOhlcvAsync(H1, symbols, count, before, Ct);
            foreach (var symbol in symbols)
            {
                await AssertNewestAsync(store, symbol, count, before, read.Value[symbol]);
            }
        }
    }

    [Fact]
    public async Task The_ohlcv_read_is_the_plain_newest_rows_around_the_twelve_digit_ids_before_2001()
    {
        // Open times in milliseconds have 12 digits before 2001-09-09T01:46:40Z: a conventional id range across
        // that instant is inverted as text. Windows before it, across it and after it, and one reaching back before 1970.
        var store = await CreateAsync(H1);
        var ms13 = DateTime.UnixEpoch.AddMilliseconds(1_000_000_000_000);
        var start = new DateTime(2001, 9, 7, 0, 0, 0, DateTimeKind.Utc);
        var rows = Enumerable.Range(0, 72).Select(h => At("OLDUSDT", start.AddHours(h), 10m + (h * 0.5m))).ToList();
        rows.Add(At("OLDUSDT", start.AddHours(50), 7m) with { Id = "OLDUSDT-legacy" });
        rows.AddRange(Enumerable.Range(0, 12).Select(h => At("OLDUSDT", DateTime.UnixEpoch.AddHours(h), 1m + h)));
        await store.InsertIgnoreAsync(H1, rows, Ct);

        foreach (var before in new[] { ms13.AddHours(-6), ms13.AddHours(-1), ms13.AddHours(1), ms13.AddHours(5), ms13.AddHours(30), DateTime.UnixEpoch.AddHours(6) })
        {
            foreach (var count in new[] { 1, 4, 10, 40 })
            {
                var read = await store.ReadLatestOhlcvAsync(H1, ["OLDUSDT"], count, before, Ct);
                await AssertNewestAsync(store, "OLDUSDT", count, before, read.Value["OLDUSDT"]);
            }
        }
    }

    [Fact]
    public async Task The_ohlcv_read_is_the_plain_newest_rows_on_random_series()
    {
        // Seeded: gaps, duplicates under legacy or skewed ids, rows after the cut-off, short and empty series.
        var store = await CreateAsync(H1);
        var random = new Random(16_4);
        var rows = new List<Candle>();
        var symbols = Enumerable.Range(0, 60).Select(i => $"R{i:D2}USDT").ToArray();
        foreach (var symbol in symbols)
        {
            var length = random.Next(4) == 0 ? random.Next(0, 8) : 40;
            for (var h = 40 - length; h < 42; h++)
            {
                if (random.Next(10) == 0)
                {
                    continue; // a gap
                }

                var candle = At(symbol, Day.AddHours(h), 100m + random.Next(1000) / 100m);
                rows.Add(random.Next(12) switch
                {
                    0 => candle with { Id = $"{symbol}-old-{h}" },
                    1 => candle with { Id = Candle.ConventionalId(symbol, Day.AddHours(h + random.Next(-60, 60) + 0.25)) },
                    _ => candle,
                });
                for (var d = random.Next(8) == 0 ? random.Next(1, 4) : 0; d > 0; d--)
                {
                    rows.Add(At(symbol, Day.AddHours(h), 100m + random.Next(1000) / 100m) with { Id = $"{symbol}-dup-{h}-{d}" });
                }
            }
        }

        await store.InsertIgnoreAsync(H1, rows, Ct);
        var before = Day.AddHours(40);
        foreach (var count in new[] { 1, 2, 7, 20, 39, 45 })
        {
            var read = await store.ReadLatestOhlcvAsync(H1, symbols, count, before, Ct);
            foreach (var symbol in symbols)
            {
                await AssertNewestAsync(store, symbol, count, before, read.Value[symbol]);
            }
        }
    }

    /// <summary>
    /// Asserts <paramref name="actual"/> is an answer of <c>ORDER BY timestamp DESC LIMIT count</c> (the plain read):
    /// the same open times, every row newer than the oldest of them, and as many rows at that oldest open time,
    /// each one of the rows there (which of several such rows LIMIT returns is unspecified).
    /// </summary>
    private static async Task AssertNewestAsync(SqlCandleStore store, string symbol, int count, DateTime before, OhlcvRows actual)
    {
        var plain = (await store.ReadLatestAsync(new SeriesKey(symbol, H1), count, before, Ct)).Value;
        var all = (await store.ReadLatestAsync(new SeriesKey(symbol, H1), 1_000_000, before, Ct)).Value;
        var context = $"{symbol}, newest {count} before {before:O}";
        Assert.True(plain.Select(c => c.Timestamp).SequenceEqual(actual.OpenTimes), $"{context}: open times [{string.Join(", ", actual.OpenTimes.Select(t => t.ToString("O")))}] are not the plain read's [{string.Join(", ", plain.Select(c => c.Timestamp.ToString("O")))}]");
        if (plain.Count == 0)
        {
            return;
        }

        static string Row(DateTime time, double open, double high, double low, double close, double volume) =>
            FormattableString.Invariant($"{time:O} {open:R} {high:R} {low:R} {close:R} {volume:R}");
        var oldest = plain[0].Timestamp;
        var actualRows = Enumerable.Range(0, actual.Count).Select(i => (actual.OpenTimes[i], Row(actual.OpenTimes[i], actual.Open[i], actual.High[i], actual.Low[i], actual.Close[i], actual.Volume[i]))).ToList();
        var allRows = all.Select(c => (c.Timestamp, Row(c.Timestamp, (double)c.Open, (double)c.High, (double)c.Low, (double)c.Close, (double)c.Volume))).ToList();
        Assert.Equal(allRows.Where(r => r.Timestamp > oldest).Select(r => r.Item2).Order(), actualRows.Where(r => r.Item1 > oldest).Select(r => r.Item2).Order());
        var candidates = allRows.Where(r => r.Timestamp == oldest).Select(r => r.Item2).ToList();
        foreach (var row in actualRows.Where(r => r.Item1 == oldest))
        {
            Assert.True(candidates.Remove(row.Item2), $"{context}: {row.Item2} is not a row at {oldest:O} (or is one more than there are)");
        }
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
    public async Task The_ohlcv_read_takes_conventional_rows_from_the_primary_key_and_only_the_others_through_the_index()
    {
        var store = await CreateAsync(H1);
        // The first ten series lack the newest candle (not extracted yet), one has a second row under a legacy id.
        var symbols = Enumerable.Range(0, 120).Select(i => $"P{i:D3}USDT").ToArray();
        var rows = symbols.SelectMany((s, i) => Enumerable.Range(0, i < 10 ? 29 : 30).Select(h => At(s, Day.AddHours(h)))).ToList();
        rows.Add(At("P017USDT", Day.AddHours(28), 99m) with { Id = "P017USDT-legacy" });
        await store.InsertIgnoreAsync(H1, rows, Ct);
        var database = new MySqlConnector.MySqlConnectionStringBuilder(((MySqlCandleDialect)store.Dialect).ConnectionString).Database;
        await using var connection = new MySqlConnector.MySqlConnection(((MySqlCandleDialect)store.Dialect).ConnectionString);
        await connection.OpenAsync(Ct);
        async Task<Dictionary<string, long>> RowsReadAsync()
        {
            await using var command = new MySqlConnector.MySqlCommand("SELECT index_name, rows_read FROM information_schema.INDEX_STATISTICS WHERE table_schema = @db AND table_name = 'klines_h1'", connection);
            command.Parameters.AddWithValue("@db", database);
            var read = new Dictionary<string, long>();
            await using var reader = await command.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                read[reader.GetString(0)] = reader.GetInt64(1);
            }

            return read;
        }

        // Per-index row counts (MariaDB's user statistics), kept per database: other tests' reads do not count here.
        await using (var enable = new MySqlConnector.MySqlCommand("SET GLOBAL userstat = 1", connection))
        {
            try
            {
                await enable.ExecuteNonQueryAsync(Ct);
            }
            catch (MySqlConnector.MySqlException e)
            {
                Assert.Skip($"the server has no per-index statistics (MariaDB's userstat): {e.Message}");
            }
        }

        var before = await RowsReadAsync();
        var read = await store.ReadLatestOhlcvAsync(H1, symbols, 10, Day.AddHours(30), Ct);
        var after = await RowsReadAsync();

        Assert.Equal(10, read.Value["P017USDT"].Count);
        Assert.Equal(2, read.Value["P017USDT"].OpenTimes.Count(t => t == Day.AddHours(28)));
        Assert.Equal(Day.AddHours(19), read.Value["P000USDT"].OpenTimes[0]);
        long Delta(string index) => after.GetValueOrDefault(index) - before.GetValueOrDefault(index);
        // Each series' window (10 candles and 10 of slack) by primary key, the range's end a read more; through the
        // (symbol, timestamp) index only the row whose id is not conventional: no series was read a second time.
        Assert.InRange(Delta("PRIMARY"), (110 * 20) + (10 * 19), 120 * 21);
        Assert.Equal(1, Delta("idx_h1_symbol_timestamp"));
    }

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
