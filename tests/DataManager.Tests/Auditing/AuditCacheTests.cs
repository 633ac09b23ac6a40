using Dapper;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Auditing;

/// <summary>
/// The scheduler reuses a series' last audit only while its content is unchanged: an operator's fix in place, a
/// row replaced under the same counts, or rows reloaded from a backup must show in the very next cycle.
/// </summary>
[Trait("Category", "Server")]
public sealed class AuditCacheTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 7, 0, TimeSpan.Zero);
    private static readonly Timeframe H1 = Timeframe.Parse("1h");
    private static readonly DateTime Day = new(2026, 11, 22, 10, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Middle = Day.AddHours(12);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-audit-cache");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Candle Healthy(DateTime openTime) => DemoCandles.Make("BTCUSDT", H1, openTime, 1m, 2m, 0.5m, 1.5m, 1m, 1);

    /// <summary>High below the close: an <c>ohlc_inconsistent</c> candle.</summary>
    private static Candle Broken(DateTime openTime) => DemoCandles.Make("BTCUSDT", H1, openTime, 1m, 1.2m, 0.5m, 1.5m, 1m, 1);

    private async Task<SqlCandleStore> CandlesAsync(string engine) =>
        engine == "mariadb" ? await CandleDatabases.MariaDbAsync(mariaDb, H1) : await CandleDatabases.SqliteAsync(_directory, H1);

    private static async Task ExecuteAsync(SqlCandleStore candles, string sql, object parameters)
    {
        await using var connection = candles.Dialect.CreateConnection();
        await connection.OpenAsync(Ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: Ct));
    }

    [Theory]
    [InlineData("mariadb", "update")]
    [InlineData("mariadb", "replace")]
    [InlineData("mariadb", "reload")]
    [InlineData("sqlite", "update")]
    [InlineData("sqlite", "replace")]
    [InlineData("sqlite", "reload")]
    public async Task A_content_change_that_keeps_counts_and_newest_times_is_audited_in_the_next_cycle(string engine, string mutation)
    {
        var candles = await CandlesAsync(engine);
        // 24 candles up to the newest closed hour; "reload" starts from a broken candle that the backup fixes.
        var rows = Enumerable.Range(0, 24).Select(i => Day.AddHours(i)).Select(t => mutation == "reload" && t == Middle ? Broken(t) : Healthy(t)).ToList();
        await candles.InsertIgnoreAsync(H1, rows, Ct);
        var store = new SqliteTestStore(Path.Combine(_directory, engine + mutation + ".db"));
        await store.InitializeAsync(Ct);
        var time = new FakeTimeProvider(Now);
        var candleOptions = candles.Dialect is MySqlCandleDialect mysql ? new CandleDatabaseOptions { MySqlConnectionString = mysql.ConnectionString } : new CandleDatabaseOptions();
        var scheduler = AuditLoopTests.Scheduler(candles, store, time, new SeriesOptions { SupportedPairs = ["BTCUSDT"], PairsConfigured = true, SupportedTimeframes = [H1] }, candleOptions);

        var before = await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal(mutation == "reload" ? 1 : 0, before.IntegrityViolations);

        var table = H1.TableName;
        var middleId = Candle.ConventionalId("BTCUSDT", Middle);
        switch (mutation)
        {
            case "update": // an operator breaks (or fixes) a candle's prices in place: no count or time moves
                await ExecuteAsync(candles, $"UPDATE {table} SET high_price = '1.20000000' WHERE id = @id", new { id = middleId });
                break;
            case "replace": // one row deleted, another inserted at the same open time under another id, same extracted_at
                await ExecuteAsync(candles, $"DELETE FROM {table} WHERE id = @id", new { id = middleId });
                await candles.InsertIgnoreAsync(H1, [Broken(Middle) with { Id = "legacy-" + middleId }], Ct);
                break;
            case "reload": // everything deleted and restored from a backup, extracted_at as it was
                await ExecuteAsync(candles, $"DELETE FROM {table} WHERE symbol = @symbol", new { symbol = "BTCUSDT" });
                await candles.InsertIgnoreAsync(H1, [.. Enumerable.Range(0, 24).Select(i => Healthy(Day.AddHours(i)))], Ct);
                break;
        }

        time.Advance(TimeSpan.FromMinutes(5)); // same grid: only the content changed
        var after = await scheduler.RunCycleAsync(1, Ct);
        var latest = Assert.Single(await store.LatestPerSeriesAsync(Ct));
        Assert.Equal(after.Id, latest.CycleId);
        if (mutation == "reload")
        {
            Assert.Equal(0, after.IntegrityViolations);
            Assert.Empty(latest.Integrity);
        }
        else
        {
            Assert.Equal(1, after.IntegrityViolations);
            var finding = Assert.Single(latest.Integrity);
            Assert.Equal(("ohlc_inconsistent", mutation == "replace" ? "legacy-" + middleId : middleId), (finding.Rule, finding.RowId));
        }

        // Nothing changed since: the next cycle reuses the audit and still reports the same.
        time.Advance(TimeSpan.FromMinutes(5));
        var steady = await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal(after.IntegrityViolations, steady.IntegrityViolations);
    }

    [Fact]
    public async Task The_signature_changes_with_a_judged_column_and_not_with_the_others()
    {
        foreach (var engine in new[] { "mariadb", "sqlite" })
        {
            var candles = await CandlesAsync(engine);
            await candles.InsertIgnoreAsync(H1, [.. Enumerable.Range(0, 24).Select(i => Healthy(Day.AddHours(i)))], Ct);
            var series = new SeriesKey("BTCUSDT", H1);
            async Task<SeriesSignature> SignatureAsync() => (await candles.SignatureAsync(series, Day, Day.AddDays(1), Ct)).Value;
            var id = new { id = Candle.ConventionalId("BTCUSDT", Middle) };

            var first = await SignatureAsync();
            Assert.Equal(first, await SignatureAsync());
            Assert.NotEqual(0m, first.ContentChecksum);
            // No rule reads the trade count or the price change: the last audit still holds.
            await ExecuteAsync(candles, $"UPDATE {H1.TableName} SET number_of_trades = 99, price_change = NULL WHERE id = @id", id);
            Assert.Equal(first, await SignatureAsync());
            // A volume the anomaly check reads, changed in place, still healthy: counts and times are as they were.
            await ExecuteAsync(candles, $"UPDATE {H1.TableName} SET volume = '1.00000001' WHERE id = @id", id);
            var changed = await SignatureAsync();
            Assert.NotEqual(first.ContentChecksum, changed.ContentChecksum);
            Assert.Equal((first.Rows, first.NewestOpen, first.NewestExtractedAt), (changed.Rows, changed.NewestOpen, changed.NewestExtractedAt));
        }
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
