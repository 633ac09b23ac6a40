using System.Text.Json;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace DataManager.Tests.Candles;

/// <summary>
/// On MariaDB the open-time scan arrives packed, a chunk of the window per row: it must hand the scanner exactly what
/// the plain row-per-row query returns, whatever the chunking, and re-read a chunk a server limit cut.
/// </summary>
[Trait("Category", "Server")]
public sealed class PackedOpenTimeScanTests(MariaDbServer server)
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTime From = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime To = From.AddMinutes(300);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Candle At(DateTime open, string symbol = "BTCUSDT", string? id = null) =>
        DemoCandles.Make(symbol, M1, open, 100m, 102m, 99m, 101m, 10m, 5) with { Id = id ?? Candle.ConventionalId(symbol, open) };

    /// <summary>Gaps (one on a chunk bound), duplicates under other ids, off-grid seconds, ids outside and inside the conventional range that disagree with their time, neighbours outside the window and other symbols.</summary>
    private static List<Candle> Rows()
    {
        var minute = (int m) => From.AddMinutes(m);
        var skipped = new HashSet<int> { 10, 11, 12, 50, 111, 112, 250 };
        var rows = Enumerable.Range(0, 300).Where(m => !skipped.Contains(m)).Select(m => At(minute(m))).ToList();
        rows.Add(At(minute(20), id: "legacy-20"));
        rows.Add(At(minute(200), id: "BTCUSDT-200-a"));
        rows.Add(At(minute(200), id: "BTCUSDT-200-b"));
        rows.Add(At(minute(30).AddSeconds(30)));
        rows.Add(At(From.AddSeconds(1)));
        rows.Add(At(minute(5), id: Candle.ConventionalId("BTCUSDT", minute(250)))); // inside the id range, another time
        rows.Add(At(minute(6), id: "AAA"));
        rows.Add(At(minute(7), id: "zzz"));
        rows.Add(At(minute(113), id: "BTCUSDT_9999999999999"));
        rows.Add(At(From.AddMinutes(-1)));
        rows.Add(At(To));
        rows.AddRange(Enumerable.Range(0, 300).Select(m => At(minute(m), "BTCUSDT2")));
        rows.AddRange(Enumerable.Range(0, 300).Select(m => At(minute(m), "ETHUSDT")));
        return rows;
    }

    private async Task<string> DatabaseAsync()
    {
        server.Require();
        var connectionString = await server.CreateDatabaseAsync();
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new MySqlCommand(CandleSchema.MySqlCreateTable(M1), connection);
        await command.ExecuteNonQueryAsync(Ct);
        return connectionString;
    }

    /// <summary>The plain query: every row of the window in time order, with whether its id is outside the conventional range.</summary>
    private static async Task<List<(DateTime, bool)>> PlainRowsAsync(string connectionString)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new MySqlCommand(
            "SELECT timestamp, (id < @idFrom OR id >= @idTo) FROM klines_m1 WHERE symbol = 'BTCUSDT' AND timestamp >= @from AND timestamp < @to", connection);
        command.Parameters.AddWithValue("@idFrom", Candle.ConventionalId("BTCUSDT", From));
        command.Parameters.AddWithValue("@idTo", Candle.ConventionalId("BTCUSDT", To));
        command.Parameters.AddWithValue("@from", From);
        command.Parameters.AddWithValue("@to", To);
        var rows = new List<(DateTime, bool)>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add((DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc), reader.GetInt64(1) != 0));
        }

        return [.. rows.Order()];
    }

    [Theory]
    [InlineData(10_000, 4_294_967_295L)] // the window in one chunk
    [InlineData(7, 4_294_967_295L)] // 43 chunks, three queries
    [InlineData(1, 4_294_967_295L)] // a chunk per interval, empty ones among them
    [InlineData(7, 40L)] // every chunk cut by group_concat_max_len: all re-read row by row
    [InlineData(30, 200L)] // some chunks cut, some not
    public async Task The_scan_hands_over_exactly_the_rows_of_the_plain_query(int chunkIntervals, long maxLength)
    {
        var connectionString = await DatabaseAsync();
        var logger = new RecordingLogger<SqlCandleStore>(LogLevel.Warning);
        var store = new SqlCandleStore(new MySqlCandleDialect(connectionString), logger) { PackedScanChunkIntervals = chunkIntervals, PackedScanMaxLength = maxLength, PackedScanMinIntervals = 0 };
        await store.InsertIgnoreAsync(M1, Rows(), Ct);

        var scanned = new List<(DateTime, bool)>();
        var result = await store.ScanOpenTimesAsync(new SeriesKey("BTCUSDT", M1), From, To, (time, flag) => scanned.Add((time, flag)), Ct);

        var expected = await PlainRowsAsync(connectionString);
        Assert.False(result.TableMissing);
        Assert.Equal(expected.Count, result.Value);
        Assert.Equal(expected.Select(e => e.Item1), scanned.Select(s => s.Item1)); // ascending, as the scanner needs
        Assert.Equal(expected, scanned.Order().ToList());
        Assert.Contains(expected, e => e.Item2); // the flag is exercised
        Assert.Equal(maxLength < 1000, logger.Lines.Any(l => l.Contains("read again row by row", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_audit_report_is_the_same_packed_or_plain()
    {
        var connectionString = await DatabaseAsync();
        var plain = new SqlCandleStore(new MySqlCandleDialect(connectionString), new RecordingLogger<SqlCandleStore>());
        await plain.InsertIgnoreAsync(M1, Rows(), Ct);
        var chunked = new SqlCandleStore(new MySqlCandleDialect(connectionString), new RecordingLogger<SqlCandleStore>()) { PackedScanChunkIntervals = 7, PackedScanMinIntervals = 0 };

        async Task<string> AuditAsync(SqlCandleStore store) => JsonSerializer.Serialize(
            await new SeriesAuditor(store, Options.Create(new AuditOptions())).AuditAsync(new SeriesKey("BTCUSDT", M1), From, To, To, Ct));

        var report = await AuditAsync(plain); // 300 intervals: below the packing threshold
        Assert.Equal(report, await AuditAsync(chunked));
        Assert.Contains("\"Gaps\"", report, StringComparison.Ordinal);
    }
}
