using System.Text.Json.Nodes;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Deployment;

/// <summary>The PrometheusRule's groups checked and unit-tested by the real <c>promtool</c> (k8s/tests/alerts.test.yaml).</summary>
[Trait("Category", "Server")]
public sealed class AlertRuleTests
{
    public static readonly string[] RequiredAlerts =
    [
        "DataManagerNoLeader", "DataManagerMultipleLeaders", "DataManagerLeaderFlapping", "DataManagerAuditStale", "DataManagerAuditSeriesErrors",
        "DataManagerSeriesDegraded", "DataManagerSeriesCritical", "DataManagerGapsSustained", "DataManagerDuplicatesSustained", "DataManagerNatsDisconnected",
        "DataManagerNoMessages", "DataManagerMessagesDropped", "DataManagerBackfillFailures", "DataManagerBinanceBanned",
        "DataManagerCompletenessBudgetBurnFast", "DataManagerCompletenessBudgetBurnSlow", "DataManagerFreshnessBudgetBurnFast", "DataManagerFreshnessBudgetBurnSlow",
        "DataManagerSymbolSilent",
        "DataManagerBackfillPendingTooLong",
    ];

    /// <summary>The rendered PrometheusRule's spec: a plain Prometheus rule file.</summary>
    public static async Task<JsonObject> RuleFileAsync() => (await Manifests.RenderAsync("base")).Resource("PrometheusRule")["spec"]!.AsObject();

    public static IEnumerable<JsonNode> Rules(JsonObject ruleFile) => ruleFile["groups"]!.AsArray().SelectMany(g => g!["rules"]!.AsArray())!;

    [Fact]
    public async Task Promtool_accepts_the_rules_and_their_unit_tests_pass()
    {
        var promtool = Promtool();
        var directory = ServerAvailability.TempDirectory("dm-rules");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "rules.yaml"), Manifests.ToYaml(await RuleFileAsync()), TestContext.Current.CancellationToken);
            File.Copy(Manifests.Directory("tests/alerts.test.yaml"), Path.Combine(directory, "alerts.test.yaml"));

            var check = await LocalProcess.RunAsync(promtool, ["check", "rules", "rules.yaml"], TimeSpan.FromMinutes(1), workingDirectory: directory);
            Assert.True(check.ExitCode == 0, check.ToString());
            var test = await LocalProcess.RunAsync(promtool, ["test", "rules", "alerts.test.yaml"], TimeSpan.FromMinutes(6), workingDirectory: directory); // a hang guard: it took over 2 min with the suite running on a loaded machine
            Assert.True(test.ExitCode == 0, test.ToString());
        }
        finally
        {
            LocalServers.DeleteDirectory(directory);
        }
    }

    [Fact]
    public async Task Every_alert_the_issue_asks_for_exists_and_is_tested_firing_and_quiet()
    {
        var alerts = Rules(await RuleFileAsync()).Select(r => (string?)r["alert"]).OfType<string>().ToList();
        Assert.Equal(RequiredAlerts.Order(), alerts.Order());

        var tests = Manifests.ParseAll(await File.ReadAllTextAsync(Manifests.Directory("tests/alerts.test.yaml"), TestContext.Current.CancellationToken)).Single();
        var cases = tests["tests"]!.AsArray().SelectMany(t => t!["alert_rule_test"]!.AsArray())
            .Select(c => ((string)c!["alertname"]!, Fires: c["exp_alerts"]!.AsArray().Count > 0)).ToList();
        foreach (var alert in alerts)
        {
            Assert.True(cases.Contains((alert, true)), $"{alert} has no test in which it fires");
            Assert.True(cases.Contains((alert, false)), $"{alert} has no test in which it stays quiet");
        }
    }

    [Fact]
    public async Task Every_alert_has_a_severity_and_a_summary()
    {
        foreach (var rule in Rules(await RuleFileAsync()).Where(r => r["alert"] is not null))
        {
            Assert.Contains((string?)rule["labels"]?["severity"], new[] { "critical", "warning" });
            Assert.False(string.IsNullOrWhiteSpace((string?)rule["annotations"]?["summary"]), $"{rule["alert"]} has no summary");
            Assert.False(string.IsNullOrWhiteSpace((string?)rule["annotations"]?["description"]), $"{rule["alert"]} has no description");
        }
    }

    public static string Promtool()
    {
        var promtool = LocalServers.FindBinary("promtool");
        ServerAvailability.Require("prometheus", promtool is null ? "no promtool binary (apt-get install prometheus)" : null);
        return promtool!;
    }
}
