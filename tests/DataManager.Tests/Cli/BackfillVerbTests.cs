using System.Globalization;
using DataManager.Candles;
using DataManager.Cli;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Cli;

/// <summary>The backfill verb's output and exit codes, on real MariaDB and the fake Binance on loopback.</summary>
[Trait("Category", "Server")]
public sealed class BackfillVerbTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly DateTime Start = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-backfill-verb");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] OneHour = ["--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T01:00:00Z"];

    private Task<(int Code, string[] Lines, string Errors)> BackfillAsync(string mysqlUri, string binanceUrl, params string[] args) =>
        BackfillAsync(new Dictionary<string, string?> { ["MYSQL_URI"] = mysqlUri, ["BINANCE_FAPI_BASE_URL"] = binanceUrl }, args);

    private async Task<(int Code, string[] Lines, string Errors)> BackfillAsync(Dictionary<string, string?> settings, params string[] args)
    {
        settings["DATA_DIR"] = Path.Combine(_directory, Guid.NewGuid().ToString("N"));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var errors = new StringWriter(CultureInfo.InvariantCulture);
        var code = await BackfillCommand.RunAsync(args, configuration, output, errors, Ct);
        return (code, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), errors.ToString());
    }

    private async Task<string> MySqlUriAsync() =>
        MariaDbServer.ToUri(((MySqlCandleDialect)(await CandleDatabases.MariaDbAsync(mariaDb, Timeframe.Parse("1m"))).Dialect).ConnectionString);

    [Fact]
    public async Task Times_are_iso_utc_and_the_final_line_states_the_ranges_binance_confirmed_empty()
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.Outages.Add((Start.AddHours(1), Start.AddHours(3)));
        var mysql = await MySqlUriAsync();

        // An offset in the input is printed back in UTC.
        var (code, lines, errors) = await BackfillAsync(mysql, fake.Url.ToString(),
            "--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-22T02:00:00+01:00", "--to", "2026-11-22T03:00:00Z");
        Assert.True(code == 0, string.Join("\n", lines) + errors);
        Assert.Matches(@"^backfill job \S+: BTCUSDT 1m 2026-11-22T01:00:00Z \.\. 2026-11-22T03:00:00Z, 120 candles expected$", lines[0]);
        Assert.EndsWith("; confirmed empty by Binance: 2026-11-22T01:00:00Z .. 2026-11-22T03:00:00Z (120 candles)", lines[^1], StringComparison.Ordinal);
        Assert.StartsWith("completed: 0 written of 0 fetched", lines[^1], StringComparison.Ordinal);

        (code, lines, errors) = await BackfillAsync(mysql, fake.Url.ToString(),
            "--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T01:00:00Z");
        Assert.True(code == 0, string.Join("\n", lines) + errors);
        Assert.Equal("completed: 60 written of 60 fetched; 0 gaps, 60 of 60 candles; confirmed empty: none", lines[^1]);
    }

    [Theory]
    [InlineData("refused")]
    [InlineData("dns")]
    public async Task An_unreachable_binance_exits_3_whatever_the_error_text(string how)
    {
        var url = how == "dns" ? "http://binance.invalid/" : $"http://127.0.0.1:{ServerAvailability.FreePort()}/";
        var (code, lines, errors) = await BackfillAsync(await MySqlUriAsync(), url,
            OneHour);
        Assert.True(code == AuditCommand.Unreachable, string.Join("\n", lines) + errors);
        Assert.StartsWith("failed: 0 written of 0 fetched; Binance unreachable", lines[^1], StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(lines[^1], "Binance unreachable"));
    }

    [Theory]
    [InlineData("refused")]
    [InlineData("dns")]
    public async Task An_unreachable_mysql_exits_3_for_backfill_and_audit(string how)
    {
        var mysql = how == "dns" ? "mysql://root@mysql.invalid:3306/market" : $"mysql://root@127.0.0.1:{ServerAvailability.FreePort()}/market";
        var (code, _, errors) = await BackfillAsync(mysql, "http://127.0.0.1:1/", OneHour);
        Assert.True(code == AuditCommand.Unreachable, errors);
        Assert.StartsWith("backfill: a dependency is unreachable", errors, StringComparison.Ordinal);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["MYSQL_URI"] = mysql, ["DATA_DIR"] = _directory }).Build();
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var auditErrors = new StringWriter(CultureInfo.InvariantCulture);
        Assert.Equal(AuditCommand.Unreachable, await AuditCommand.RunAsync(["--timeframes", "1m"], configuration, output, auditErrors, new FakeTimeProvider(Start), Ct));
        Assert.Empty(output.ToString());
        Assert.Contains("cannot reach the candle database", auditErrors.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("refused")]
    [InlineData("dns")]
    public async Task An_unreachable_store_exits_3(string how)
    {
        // The URL's own server selection timeout keeps the wait short (the service's default is 30 s).
        var host = how == "dns" ? "mongo.invalid:27017" : $"127.0.0.1:{ServerAvailability.FreePort()}";
        var mongo = $"mongodb://{host}/datamanager?serverSelectionTimeoutMS=2000";
        var (code, lines, errors) = await BackfillAsync(new Dictionary<string, string?> { ["MONGODB_URL"] = mongo, ["MYSQL_URI"] = await MySqlUriAsync() }, OneHour);
        Assert.True(code == AuditCommand.Unreachable, string.Join("\n", lines) + errors);
        Assert.StartsWith("backfill: a dependency is unreachable", errors, StringComparison.Ordinal);
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
