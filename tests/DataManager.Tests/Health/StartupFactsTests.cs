using System.Globalization;
using System.Text.RegularExpressions;
using DataManager.Configuration;
using DataManager.Hosting;
using DataManager.Testing;
using DataManager.Tests.Deployment;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Health;

/// <summary>What a replica says and exports the moment it starts, before it has done any work.</summary>
[Trait("Category", "Server")]
public sealed partial class StartupFactsTests : IDisposable
{
    private readonly string _dataDir = ServerAvailability.TempDirectory("dm-startup");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Every_capability_is_listed_on_or_off_with_the_setting_that_decided_it()
    {
        var capabilities = Capabilities.Describe(new LeaderElectionOptions(), new AuditOptions { Enabled = false }, new BackfillOptions { Enabled = true, AutoBackfill = true },
            new AnalyticsOptions(), new NatsOptions());
        Assert.Equal(["leader_election", "auditor", "duplicate_removal", "backfill_orchestrator", "auto_backfill", "analytics", "tracker"], capabilities.Select(c => c.Name));
        var line = Capabilities.Line(capabilities);
        Assert.Contains("auditor off (ENABLE_AUDITOR=false)", line, StringComparison.Ordinal);
        // Auto-backfill is asked for, but it plans from audit gaps: off, and the reason says why.
        Assert.Contains("auto_backfill off (ENABLE_AUDITOR=false)", line, StringComparison.Ordinal);
        Assert.Contains("backfill_orchestrator on (ENABLE_BACKFILLER=true", line, StringComparison.Ordinal);
        Assert.Contains("tracker off (NATS_URL not set)", line, StringComparison.Ordinal);
        Assert.Contains("analytics on (every 900 s)", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_start_up_line_lists_every_capability()
    {
        var port = ServerAvailability.FreePort();
        await using var process = Start(port, new() { ["ENABLE_AUDITOR"] = "false" });
        using var client = Client(port);
        await ServiceExecutable.WaitForReadinessAsync(client, process, TimeSpan.FromSeconds(60));
        var line = Assert.Single(Lines(process), l => l.Contains("Capabilities: ", StringComparison.Ordinal));
        foreach (var expected in new[] { "leader_election on", "auditor off (ENABLE_AUDITOR=false)", "duplicate_removal off", "backfill_orchestrator off (ENABLE_BACKFILLER=false",
                     "auto_backfill off", "analytics on", "tracker off (NATS_URL not set)" })
        {
            Assert.Contains(expected, line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_unreachable_nats_at_start_is_one_warning_then_one_line_when_it_connects()
    {
        ServerAvailability.Require("nats", LocalNats.IsInstalled ? null : "no nats-server binary");
        await using var nats = await LocalNats.StartAsync();
        await nats.StopAsync();
        var port = ServerAvailability.FreePort();
        await using var process = Start(port, new() { ["NATS_URL"] = nats.Url });
        await WaitForAsync(process, "not reachable at start", TimeSpan.FromMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(4), Ct); // the client keeps retrying meanwhile: nothing more may be logged
        Assert.Single(Lines(process), l => l.Contains("NATS", StringComparison.Ordinal) && l.Contains("\"@l\":\"Warning\"", StringComparison.Ordinal));

        await nats.StartAgainAsync();
        await WaitForAsync(process, "NATS connected to", TimeSpan.FromMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        Assert.Single(Lines(process), l => l.Contains("NATS connected to", StringComparison.Ordinal));
        Assert.Single(Lines(process), l => l.Contains("NATS", StringComparison.Ordinal) && l.Contains("\"@l\":\"Warning\"", StringComparison.Ordinal));
    }

    /// <summary>
    /// A replica with every optional capability off exports every series the dashboard and the alerts read, at 0,
    /// except values measured per series (a 0 there would be a false reading) and the tracker's (NATS off).
    /// </summary>
    [Fact]
    public async Task Every_series_the_dashboard_and_the_alerts_read_exists_from_the_start_and_nothing_else_is_exported()
    {
        var port = ServerAvailability.FreePort();
        await using var process = Start(port, new() { ["ENABLE_AUDITOR"] = "false", ["ENABLE_ANALYTICS"] = "false", ["ENABLE_BACKFILLER"] = "false" });
        using var client = Client(port);
        await ServiceExecutable.WaitForReadinessAsync(client, process, TimeSpan.FromSeconds(60));
        var exposition = await client.GetStringAsync("/metrics", Ct);
        var exported = exposition.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => SampleName().Match(l).Value).ToHashSet(StringComparer.Ordinal);

        var read = Dashboard.Panels(Dashboard.Load()).SelectMany(p => p.Expressions)
            .Concat(AlertRuleTests.Rules(await AlertRuleTests.RuleFileAsync()).Select(r => (string)r["expr"]!))
            .SelectMany(e => MetricName().Matches(e).Select(m => m.Value))
            .ToHashSet(StringComparer.Ordinal);
        string[] measured =
        [
            "data_manager_audit_health_score", "data_manager_audit_open_gaps", "data_manager_audit_open_gap_seconds", "data_manager_audit_duplicate_surplus",
            "data_manager_audit_integrity_violations_total", "data_manager_volatility_annualized", "data_manager_regime",
            "data_manager_messages_received_total", "data_manager_messages_invalid_total", "data_manager_messages_dropped_total", "data_manager_message_clock_skew_total",
            "data_manager_last_message_timestamp_seconds", "data_manager_message_latency_seconds_bucket", "data_manager_nats_connected", "data_manager_nats_reconnects_total",
            "data_manager_incident_open_info",
        ];
        var missing = read.Where(name => !measured.Contains(name) && !exported.Contains(name)).Order().ToList();
        Assert.True(missing.Count == 0, "read by the dashboard or an alert but absent at start: " + string.Join(", ", missing));
        Assert.Contains("data_manager_backfill_jobs_finished_total{state=\"failed\"} 0", exposition, StringComparison.Ordinal);
        Assert.Contains("data_manager_audit_series_errors 0", exposition, StringComparison.Ordinal);

        // Only what an operator reads: the service's metrics, process and GC figures, HTTP requests.
        var foreign = exported.Where(name => !ExportedFamily().IsMatch(name)).Order().ToList();
        Assert.True(foreign.Count == 0, "runtime-internal series on /metrics: " + string.Join(", ", foreign));
    }

    private LocalProcess Start(int port, Dictionary<string, string?> settings)
    {
        settings["DATA_DIR"] = _dataDir;
        settings["API_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        return ServiceExecutable.Start(settings);
    }

    private static HttpClient Client(int port) => new() { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

    private static string[] Lines(LocalProcess process) => process.Output.Split('\n');

    private static Task WaitForAsync(LocalProcess process, string text, TimeSpan timeout) =>
        Eventually.UntilAsync($"the service logs \"{text}\"", () => process.Output.Contains(text, StringComparison.Ordinal), timeout,
            seen: () => process.Output, abandonIf: () => process.HasExited ? "the service exited" : null, cancellationToken: Ct);

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex SampleName();

    [GeneratedRegex(@"\b(data_manager_[a-z0-9_]+|process_[a-z0-9_]+|dotnet_[a-z0-9_]+)")]
    private static partial Regex MetricName();

    [GeneratedRegex("^(data_manager_|process_|dotnet_|http_)")]
    private static partial Regex ExportedFamily();

    public void Dispose() => LocalServers.DeleteDirectory(_dataDir);
}
