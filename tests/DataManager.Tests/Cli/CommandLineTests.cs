using System.Globalization;
using DataManager.Cli;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace DataManager.Tests.Cli;

/// <summary>The executable's command line: help, unknown verbs and options, and the service's own arguments.</summary>
[Trait("Category", "Server")]
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dataDir = ServerAvailability.TempDirectory("dm-cmdline");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(int? Code, string Output, string Errors)> RunAsync(params string[] args)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["DATA_DIR"] = _dataDir }).Build();
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var errors = new StringWriter(CultureInfo.InvariantCulture);
        var code = await Verbs.RunAsync(args, new VerbContext(configuration, output, errors, TimeProvider.System), Ct);
        return (code, output.ToString(), errors.ToString());
    }

    /// <summary>A verb that keeps the embedded store or reads the embedded demo refuses an unusable DATA_DIR like the service: exit 2, one line.</summary>
    [Theory]
    [InlineData("audit", "--format", "json")]
    [InlineData("report", "--days", "1")]
    [InlineData("backfill", "--symbol", "BTCUSDT", "--timeframe", "1h", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z")]
    public async Task A_verb_given_an_unusable_data_dir_exits_2_naming_it(params string[] args)
    {
        var file = Path.Combine(_dataDir, "not-a-directory");
        await File.WriteAllTextAsync(file, "x", Ct);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["DATA_DIR"] = file }).Build();
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var errors = new StringWriter(CultureInfo.InvariantCulture);
        var code = await Verbs.RunAsync(args, new VerbContext(configuration, output, errors, TimeProvider.System), Ct);
        Assert.Equal(2, code);
        Assert.StartsWith($"Invalid configuration: DATA_DIR: {file} cannot be created or written", errors.ToString(), StringComparison.Ordinal);
        Assert.Empty(output.ToString());
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public async Task Help_lists_the_verbs_and_exits_0(string help)
    {
        var (code, output, errors) = await RunAsync(help);
        Assert.Equal(0, code);
        Assert.Empty(errors);
        foreach (var verb in new[] { "audit", "backfill", "feed", "report", "help" })
        {
            Assert.Matches($@"(?m)^\s+{verb}\b", output);
        }

        Assert.Contains("--help", output, StringComparison.Ordinal);
        Assert.Contains("--API_PORT 8001", output, StringComparison.Ordinal); // how the service takes its settings
    }

    /// <summary>System.CommandLine writes "[[--] &lt;additional arguments&gt;...]]" for a root that keeps unmatched tokens: one bracket too many.</summary>
    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    [InlineData("help", "help")]
    public async Task The_root_help_has_a_correct_usage_line_and_names_the_service_settings(params string[] args)
    {
        var (code, output, errors) = await RunAsync(args);
        Assert.Equal(0, code);
        Assert.Empty(errors);
        Assert.Matches(@"(?m)^Usage:\r?\n  (\S+) \[command\] \[options\]\r?\n  \1 \[--NAME value \.\.\.\]\r?\n\r?\n", output);
        Assert.Contains("Settings of the service (no command):", output, StringComparison.Ordinal);
        Assert.DoesNotContain("additional arguments", output, StringComparison.OrdinalIgnoreCase);
        Assert.All(output.Split('\n'), line => Assert.True(line.Count(c => c == '[') == line.Count(c => c == ']') && line.Count(c => c == '<') == line.Count(c => c == '>'), line));
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("audits")]
    public async Task Help_about_an_unknown_verb_exits_2_saying_it_is_unknown_and_listing_the_verbs(string verb)
    {
        var (code, output, errors) = await RunAsync("help", verb);
        Assert.Equal(Verbs.BadArguments, code);
        Assert.Empty(output);
        Assert.StartsWith($"help: unknown verb '{verb}' (the verbs are audit, backfill, feed, report and help)", errors, StringComparison.Ordinal);
        Assert.EndsWith(" --help'." + Environment.NewLine, errors, StringComparison.Ordinal);
        Assert.DoesNotContain("help --help", errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("audit", "--symbols", "--timeframes", "--from", "--to", "--format", "--fail-below")]
    [InlineData("backfill", "--symbol", "--timeframe", "--from", "--to")]
    [InlineData("feed", "--nats", "--rate", "--duration", "--symbols", "--subject", "--malformed")]
    [InlineData("report", "--days", "--format", "--symbols", "--timeframes", "--to")]
    public async Task Each_verb_has_its_own_help(string verb, params string[] options)
    {
        foreach (var args in new[] { new[] { verb, "--help" }, new[] { verb, "-h" }, new[] { "help", verb } })
        {
            var (code, output, _) = await RunAsync(args);
            Assert.Equal(0, code);
            Assert.Contains($" {verb} [options]", output, StringComparison.Ordinal);
            Assert.All(options, option => Assert.Contains(option + " <", output, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("unknown verb 'frobnicate'", "frobnicate")]
    [InlineData("unknown option '--frobnicate'", "--frobnicate")]
    [InlineData("unknown option '--frobnicate'", "--frobnicate", "x")]
    [InlineData("--API_PORT needs a value", "--API_PORT")]
    [InlineData("unknown verb 'audits'", "audits", "--format", "json")]
    public Task An_unknown_verb_or_option_exits_2_naming_it_and_never_starts_the_service(string expected, params string[] args) =>
        AssertRefusedAsync(expected, args);

    [Theory]
    [InlineData("audit", "--bogus", "x")]
    [InlineData("backfill", "--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T01:00:00Z", "--bogus")]
    [InlineData("feed", "--nats", "nats://127.0.0.1:1", "--bogus", "x")]
    [InlineData("report", "--bogus", "x")]
    [InlineData("audit", "extra")]
    public async Task An_unknown_option_of_a_verb_exits_2_naming_it(params string[] args)
    {
        var (code, output, errors) = await RunAsync(args);
        Assert.Equal(Verbs.BadArguments, code);
        Assert.Empty(output);
        Assert.StartsWith(args[0] + ": unknown option or argument '" + args[^2..].First(a => a is "--bogus" or "extra"), errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData]
    [InlineData("--API_PORT", "8001")]
    [InlineData("--API_PORT=8001", "--DATA_DIR", "/tmp/x")]
    [InlineData("--api_port", "8001")]
    [InlineData("--urls", "http://127.0.0.1:5000")]
    [InlineData("--environment", "Development")]
    [InlineData("--Logging:LogLevel:Default=Debug")]
    public async Task Without_a_verb_the_service_runs_with_its_own_settings(params string[] args)
    {
        var (code, output, errors) = await RunAsync(args);
        Assert.Null(code); // Program.cs starts the host with these arguments
        Assert.Empty(output + errors);
    }

    [Theory]
    [InlineData("backfill: --timeframe: \"7m\" is not one of 1m,3m,5m,15m,30m,1h,2h,4h,6h,8h,12h,1d", "backfill", "--symbol", "BTCUSDT", "--timeframe", "7m", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T01:00:00Z")]
    [InlineData("backfill: --timeframe: \"1M\" is not one of", "backfill", "--symbol", "BTCUSDT", "--timeframe", "1M", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T01:00:00Z")]
    [InlineData("backfill: --symbol: \"BTC-USDT\" is not a symbol", "backfill", "--symbol", "BTC-USDT", "--timeframe", "1m", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T01:00:00Z")]
    [InlineData("backfill: --from: \"2026-11-22T00:00:00\" is not an ISO 8601 time with Z or an offset", "backfill", "--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-22T00:00:00", "--to", "2026-11-22T01:00:00Z")]
    [InlineData("backfill: Option '--to' is required.", "backfill", "--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-22T00:00:00Z")]
    [InlineData("backfill: --to (2026-11-22T00:00:00Z) must be after --from (2026-11-22T01:00:00Z)", "backfill", "--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-22T02:00:00+01:00", "--to", "2026-11-22T00:00:00Z")]
    [InlineData("audit: --symbols: \"ETH USDT\" is not a symbol", "audit", "--symbols", "BTCUSDT,ETH USDT")]
    [InlineData("audit: --timeframes: \"1h \" is not one of", "audit", "--timeframes", "15m,1h ")]
    [InlineData("feed: --malformed: \"2\" is not a fraction from 0 to 1", "feed", "--nats", "nats://127.0.0.1:1", "--malformed", "2")]
    [InlineData("report: --format: \"pdf\" is not one of markdown,html,json", "report", "--format", "pdf")]
    [InlineData("report: --days: \"0\" is not a number of days above 0, at most 3650", "report", "--days", "0")]
    [InlineData("report: --to: \"yesterday\" is not an ISO 8601 time", "report", "--to", "yesterday")]
    public Task A_bad_value_exits_2_naming_the_option_and_the_value(string expected, params string[] args) =>
        AssertRefusedAsync(expected, args);

    /// <summary>Exit 2, nothing on standard output, and the problem named on standard error.</summary>
    private async Task AssertRefusedAsync(string expected, string[] args)
    {
        var (code, output, errors) = await RunAsync(args);
        Assert.Equal(Verbs.BadArguments, code);
        Assert.Empty(output);
        Assert.Contains(expected, errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_executable_prints_help_and_refuses_an_unknown_verb_without_starting()
    {
        var environment = new Dictionary<string, string?> { ["DATA_DIR"] = _dataDir, ["ASPNETCORE_ENVIRONMENT"] = "Production" };
        var help = await LocalProcess.RunAsync("dotnet", [ServiceExecutable.DllPath, "--help"], TimeSpan.FromSeconds(60), environment);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("backfill", help.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("Usage:\n  DataManager.Service [command] [options]\n  DataManager.Service [--NAME value ...]\n", help.StandardOutput, StringComparison.Ordinal);

        var helpUnknown = await LocalProcess.RunAsync("dotnet", [ServiceExecutable.DllPath, "help", "frobnicate"], TimeSpan.FromSeconds(60), environment);
        Assert.Equal(2, helpUnknown.ExitCode);
        Assert.Empty(helpUnknown.StandardOutput);
        Assert.Equal("help: unknown verb 'frobnicate' (the verbs are audit, backfill, feed, report and help)\nTry 'DataManager.Service --help'.\n", helpUnknown.StandardError);

        // It used to start the service (and take the lease on a shared DATA_DIR).
        var unknown = await LocalProcess.RunAsync("dotnet", [ServiceExecutable.DllPath, "frobnicate"], TimeSpan.FromSeconds(60), environment);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Empty(unknown.StandardOutput);
        Assert.Contains("unknown verb 'frobnicate'", unknown.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dataDir) && Directory.EnumerateFileSystemEntries(_dataDir).Any(), "the service must not have started");
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_dataDir);
}
