using System.Globalization;
using System.Text.Json;
using DataManager.Candles;
using DataManager.Cli;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Cli;

[Trait("Category", "Server")]
public sealed class AuditCommandTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 7, 30, TimeSpan.Zero);
    private readonly string _dataDir = ServerAvailability.TempDirectory("dm-cli");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(int Code, string Output, string Errors)> RunAsync(IReadOnlyDictionary<string, string?>? settings, params string[] args)
    {
        var values = new Dictionary<string, string?> { ["DATA_DIR"] = _dataDir };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var errors = new StringWriter(CultureInfo.InvariantCulture);
        var code = await AuditCommand.RunAsync(args, configuration, output, errors, new FakeTimeProvider(Now), Ct);
        return (code, output.ToString(), errors.ToString());
    }

    [Fact]
    public async Task The_json_report_on_the_embedded_demo_shows_its_seeded_defects()
    {
        var (code, output, _) = await RunAsync(null, "--format", "json");
        Assert.Equal(AuditCommand.Ran, code);
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // one line, as report --format json prints its document
        using var json = JsonDocument.Parse(output);
        Assert.Equal("2026-11-23T10:07:30Z", json.RootElement.GetProperty("generatedAt").GetString());
        var series = json.RootElement.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal(15, series.Count);
        JsonElement Series(string symbol, string timeframe) => series.Single(s => s.GetProperty("symbol").GetString() == symbol && s.GetProperty("timeframe").GetString() == timeframe);

        var btc15 = Series("BTCUSDT", "15m");
        Assert.Equal(["symbol", "timeframe", "from", "to", "expectedCandles", "actualCandles", "gaps", "duplicates", "duplicateSurplus", "integrity", "anomalies", "health", "error"],
            btc15.EnumerateObject().Select(p => p.Name).Take(13).ToArray());
        var gap = Assert.Single(btc15.GetProperty("gaps").EnumerateArray());
        Assert.Equal("2026-11-22T20:00:00Z", gap.GetProperty("from").GetString()); // 14 h before the seed time, on the 15m grid
        Assert.Equal(1, gap.GetProperty("missingCandles").GetInt32());
        Assert.Equal("2026-11-23T10:07:30Z", btc15.GetProperty("to").GetString());
        Assert.Equal(JsonValueKind.Null, btc15.GetProperty("error").ValueKind);

        Assert.Equal(3, Series("ETHUSDT", "1h").GetProperty("gaps")[0].GetProperty("missingCandles").GetInt32());
        Assert.Equal(2, Series("BTCUSDT", "5m").GetProperty("gaps")[0].GetProperty("missingCandles").GetInt32());
        Assert.Equal(2, Series("BTCUSDT", "1h").GetProperty("duplicates")[0].GetProperty("rows").GetInt32());
        Assert.Equal(2, Series("SOLUSDT", "30m").GetProperty("duplicateSurplus").GetInt32());
        Assert.Equal("ohlc_inconsistent", Series("SOLUSDT", "5m").GetProperty("integrity")[0].GetProperty("rule").GetString());
        Assert.Equal("healthy", Series("SOLUSDT", "15m").GetProperty("health").GetProperty("level").GetString());
        // The demo's ordinary random walk has no anomaly.
        Assert.All(series, s => Assert.Equal(0, s.GetProperty("anomalies").GetArrayLength()));
    }

    [Fact]
    public async Task Symbols_timeframes_and_window_can_be_chosen_and_the_table_is_for_people()
    {
        var (code, output, _) = await RunAsync(null, "--symbols", "btcusdt", "--timeframes", "1h", "--from", "2026-11-23T00:00:00Z", "--to", "2026-11-23T08:00:00Z", "--format", "table");
        Assert.Equal(AuditCommand.Ran, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("SYMBOL", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^BTCUSDT\s+1h\s+8\s+8\s+0\s+1\s+0\s+98\.00\s+healthy$", lines[1]);
        Assert.Contains("duplicate  2026-11-23T05:00:00Z  2 rows", lines[2], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--timeframes", "7m")]
    [InlineData("--symbols", "BTC-USDT")]
    [InlineData("--format", "xml")]
    [InlineData("--fail-below", "great")]
    [InlineData("--from", "yesterday")]
    [InlineData("--bogus", "x")]
    [InlineData("--from")]
    public async Task Bad_arguments_exit_2_naming_the_problem(params string[] args)
    {
        var (code, output, errors) = await RunAsync(null, args);
        Assert.Equal(AuditCommand.BadArguments, code);
        Assert.Empty(output);
        Assert.StartsWith("audit: ", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_configuration_exits_2_and_an_unreachable_database_exits_3()
    {
        var (badConfig, _, errors) = await RunAsync(new Dictionary<string, string?> { ["GAP_TOLERANCE_SECONDS"] = "soon" });
        Assert.Equal(AuditCommand.BadArguments, badConfig);
        Assert.Contains("GAP_TOLERANCE_SECONDS", errors, StringComparison.Ordinal);

        var (unreachable, _, reason) = await RunAsync(new Dictionary<string, string?> { ["MYSQL_URI"] = $"mysql://root@127.0.0.1:{ServerAvailability.FreePort()}/market" });
        Assert.Equal(AuditCommand.Unreachable, unreachable);
        Assert.Contains("cannot reach the candle database", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fail_below_exits_1_when_a_real_mysql_series_is_worse()
    {
        var store = await CandleDatabases.MariaDbAsync(mariaDb, Timeframe.Parse("1h"));
        var h1 = Timeframe.Parse("1h");
        var day = new DateTime(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
        // Healthy BTCUSDT; ETHUSDT missing half its candles.
        await store.InsertIgnoreAsync(h1, [.. Enumerable.Range(0, 24).Select(i => DemoCandles.Make("BTCUSDT", h1, day.AddHours(i), 1m, 2m, 0.5m, 1.5m, 1m, 1))], Ct);
        await store.InsertIgnoreAsync(h1, [.. Enumerable.Range(0, 12).Select(i => DemoCandles.Make("ETHUSDT", h1, day.AddHours(i * 2), 1m, 2m, 0.5m, 1.5m, 1m, 1))], Ct);
        var settings = new Dictionary<string, string?> { ["MYSQL_URI"] = MariaDbServer.ToUri(((MySqlCandleDialect)store.Dialect).ConnectionString) };
        string[] window = ["--timeframes", "1h", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-23T00:00:00Z"];

        Assert.Equal(AuditCommand.Ran, (await RunAsync(settings, [.. window, "--symbols", "BTCUSDT", "--fail-below", "healthy"])).Code);
        var (code, output, _) = await RunAsync(settings, [.. window, "--symbols", "BTCUSDT,ETHUSDT", "--fail-below", "degraded"]);
        Assert.Equal(AuditCommand.BelowThreshold, code);
        Assert.Contains("\"quality\":60,\"level\":\"unhealthy\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_executable_runs_the_audit_verb()
    {
        await using var process = ServiceExecutable.Start(new Dictionary<string, string?> { ["DATA_DIR"] = _dataDir }, "audit", "--symbols", "SOLUSDT", "--timeframes", "30m", "--format", "json");
        Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        using var json = JsonDocument.Parse(process.Output);
        Assert.Equal(2, json.RootElement.GetProperty("series")[0].GetProperty("duplicateSurplus").GetInt32());
    }

    [Fact]
    public async Task Times_are_utc_whatever_the_host_zone_across_a_dst_switch()
    {
        // Europe switched to summer time at 2026-03-29 01:00 UTC; a host-local reading would shift or fold the hour.
        var store = await CandleDatabases.MariaDbAsync(mariaDb, Timeframe.Parse("15m"));
        var m15 = Timeframe.Parse("15m");
        var start = new DateTime(2026, 3, 28, 22, 0, 0, DateTimeKind.Utc);
        await store.InsertIgnoreAsync(m15, [.. Enumerable.Range(0, 24).Where(i => i != 12).Select(i => DemoCandles.Make("BTCUSDT", m15, start.AddMinutes(15 * i), 1m, 2m, 0.5m, 1.5m, 1m, 1))], Ct);
        var uri = MariaDbServer.ToUri(((MySqlCandleDialect)store.Dialect).ConnectionString);

        await using var process = ServiceExecutable.Start(
            new Dictionary<string, string?> { ["MYSQL_URI"] = uri, ["TZ"] = "Europe/Berlin" },
            "audit", "--symbols", "BTCUSDT", "--timeframes", "15m", "--from", "2026-03-28T22:00:00Z", "--to", "2026-03-29T04:00:00Z");
        Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        using var json = JsonDocument.Parse(process.Output);
        var series = json.RootElement.GetProperty("series")[0];
        Assert.Equal((24, 23), (series.GetProperty("expectedCandles").GetInt32(), series.GetProperty("actualCandles").GetInt32()));
        var gap = Assert.Single(series.GetProperty("gaps").EnumerateArray());
        Assert.Equal("2026-03-29T01:00:00Z", gap.GetProperty("from").GetString());
        Assert.Equal("2026-03-28T22:00:00Z", series.GetProperty("from").GetString());
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_dataDir);
}
