using System.Globalization;
using System.Text.Json.Nodes;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Deployment;

/// <summary>
/// The service (embedded candles, real nats-server, the feed generator, a fake Binance for auto-backfill) scraped every
/// second by a real Prometheus loaded with the PrometheusRule's groups. Every dashboard expression and every rule
/// expression then goes through Prometheus's HTTP API: each must parse and evaluate, and every dashboard panel must
/// return at least one series. A renamed metric or label breaks this test.
/// </summary>
[Trait("Category", "Server")]
public sealed class ObservabilityEndToEndTests(NatsServer nats)
{
    [Fact]
    public async Task Every_dashboard_panel_and_every_rule_works_against_a_real_prometheus_scraping_the_service()
    {
        nats.Require();
        ServerAvailability.Require("prometheus", LocalPrometheus.IsInstalled ? null : "no prometheus binary (apt-get install prometheus)");
        var cancellationToken = TestContext.Current.CancellationToken;
        var ruleFile = await AlertRuleTests.RuleFileAsync();

        await using var binance = await FakeBinance.StartAsync();
        var port = ServerAvailability.FreePort();
        var dataDir = ServerAvailability.TempDirectory("dm-e2e");
        var settings = new Dictionary<string, string?>
        {
            ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["DATA_DIR"] = dataDir,
            ["POD_NAME"] = "data-manager-e2e",
            ["NATS_URL"] = nats.Url,
            ["NATS_CONSUMER_SUBJECT"] = "e2e-" + Guid.NewGuid().ToString("N"), // the NATS server is shared with other tests
            ["LOG_LEVEL"] = "warning",
            ["ENABLE_AUDITOR"] = "true",
            ["AUDIT_INTERVAL"] = "2",
            ["INCIDENT_INTERVAL"] = "1",
            ["INITIAL_STARTUP_DELAY"] = "0",
            ["LEADER_ELECTION_HEARTBEAT_INTERVAL"] = "0.5",
            ["LEADER_ELECTION_RENEW_DEADLINE"] = "1",
            ["LEADER_ELECTION_TIMEOUT"] = "2",
            ["ENABLE_ANALYTICS"] = "true",
            ["ANALYTICS_INTERVAL"] = "2",
            ["ENABLE_BACKFILLER"] = "true",
            ["ENABLE_AUTO_BACKFILL"] = "true",
            ["MIN_AUTO_BACKFILL_GAP"] = "60",
            ["BACKFILL_POLL_INTERVAL"] = "0.5",
            ["BINANCE_FAPI_BASE_URL"] = binance.Url.ToString(),
            ["ENABLE_DUPLICATE_REMOVAL"] = "true",
        };
        await using var service = ServiceExecutable.Start(settings);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        await ServiceExecutable.WaitForReadinessAsync(client, service, TimeSpan.FromSeconds(60));
        await using var feed = ServiceExecutable.Start(settings, "feed", "--nats", nats.Url, "--rate", "300", "--duration", "600", "--malformed", "0.02");
        await using var prometheus = await LocalPrometheus.StartAsync($"127.0.0.1:{port}",
            new Dictionary<string, string> { ["pod"] = "data-manager-e2e", ["namespace"] = "petrosa-apps" }, Manifests.ToYaml(ruleFile));

        try
        {
            // Every panel must show data; the slow ones (analytics, backfill) get there after a few cycles. The bound
            // only ends a hung run: on a loaded machine the cycles take what they take.
            var panels = Dashboard.Panels(Dashboard.Load());
            Assert.NotEmpty(panels);
            Assert.All(panels, panel => Assert.NotEmpty(panel.Expressions));
            List<string> empty = [.. panels.Select(p => p.Title)];
            var failures = new List<string>();
            await Eventually.UntilAsync("every dashboard panel returns a series, or Prometheus refuses a query", async token =>
            {
                failures.Clear();
                empty.Clear();
                foreach (var panel in panels)
                {
                    var series = 0;
                    foreach (var expression in panel.Expressions)
                    {
                        var answer = await prometheus.QueryAsync(Dashboard.Resolve(expression), token);
                        if ((string?)answer["status"] != "success")
                        {
                            failures.Add($"{panel.Title}: {expression}: {answer["errorType"]} {answer["error"]}");
                            continue;
                        }

                        series += answer["data"]!["result"]!.AsArray().Count;
                    }

                    if (series == 0)
                    {
                        empty.Add(panel.Title);
                    }
                }

                return failures.Count > 0 || empty.Count == 0;
            }, TimeSpan.FromMinutes(10), seen: () => $"panels with no series: {string.Join(", ", empty)}\nservice output:\n{Tail(service.Output)}\nprometheus output:\n{Tail(prometheus.Output)}",
            abandonIf: () => service.HasExited ? "the service exited" : null, cancellationToken: cancellationToken);
            Assert.True(failures.Count == 0, "queries Prometheus refused:\n" + string.Join('\n', failures));

            // Every rule expression parses and evaluates against the same data, and Prometheus evaluates every rule healthily.
            foreach (var rule in AlertRuleTests.Rules(ruleFile))
            {
                var answer = await prometheus.QueryAsync((string)rule["expr"]!, cancellationToken);
                Assert.True((string?)answer["status"] == "success", $"{rule["alert"]}: {answer["errorType"]} {answer["error"]}");
            }

            var rules = (await prometheus.QueryApiAsync("/api/v1/rules", cancellationToken))["data"]!["groups"]!.AsArray()
                .SelectMany(g => g!["rules"]!.AsArray()).ToList();
            Assert.Equal(AlertRuleTests.Rules(ruleFile).Count(), rules.Count);
            Assert.All(rules, r => Assert.True((string?)r!["health"] == "ok", $"{r["name"]}: {r["health"]} {r["lastError"]}"));

            // A healthy service raises no alert (those with no `for` would fire at once).
            var firing = (await prometheus.QueryAsync("ALERTS{alertstate=\"firing\"}", cancellationToken))["data"]!["result"]!.AsArray();
            Assert.True(firing.Count == 0, "alerts firing on a healthy service: " + firing.ToJsonString());

            // The service really did what the panels show (not only zero-valued series).
            Assert.Equal(1.0, await ScalarAsync(prometheus, "max(data_manager_audit_leader_status)", cancellationToken));
            Assert.True(await ScalarAsync(prometheus, "sum(data_manager_messages_received_total)", cancellationToken) > 0);
            Assert.True(await ScalarAsync(prometheus, "sum(data_manager_messages_invalid_total)", cancellationToken) > 0);
            Assert.True(await ScalarAsync(prometheus, "sum(data_manager_backfill_candles_written_total)", cancellationToken) > 0);
        }
        finally
        {
            await service.DisposeAsync();
            LocalServers.DeleteDirectory(dataDir);
        }
    }

    private static async Task<double> ScalarAsync(LocalPrometheus prometheus, string expression, CancellationToken cancellationToken)
    {
        var result = (await prometheus.QueryAsync(expression, cancellationToken))["data"]!["result"]!.AsArray();
        Assert.True(result.Count == 1, $"{expression}: {result.ToJsonString()}");
        return double.Parse((string)result[0]!["value"]![1]!, CultureInfo.InvariantCulture);
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];
}
