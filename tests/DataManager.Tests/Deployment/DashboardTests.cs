using System.Text.Json.Nodes;

namespace DataManager.Tests.Deployment;

/// <summary>The dashboard's structure as Grafana needs it (its queries are run by the end-to-end test).</summary>
public sealed class DashboardTests
{
    private static readonly JsonNode Json = Dashboard.Load();

    private static IEnumerable<JsonNode> AllPanels() =>
        Json["panels"]!.AsArray().SelectMany(p => new[] { p! }.Concat(p!["panels"]?.AsArray().Select(c => c!) ?? []));

    [Fact]
    public void Panels_have_unique_ids_and_tile_the_24_column_grid_without_overlapping()
    {
        var panels = AllPanels().ToList();
        Assert.Equal(panels.Count, panels.Select(p => (int)p["id"]!).Distinct().Count());
        var boxes = panels.Select(p => (Title: (string)p["title"]!, X: (int)p["gridPos"]!["x"]!, Y: (int)p["gridPos"]!["y"]!, W: (int)p["gridPos"]!["w"]!, H: (int)p["gridPos"]!["h"]!)).ToList();
        Assert.All(boxes, b => Assert.True(b.X >= 0 && b.W > 0 && b.X + b.W <= 24 && b.H > 0, $"{b.Title} is outside the grid"));
        for (var i = 0; i < boxes.Count; i++)
        {
            for (var j = i + 1; j < boxes.Count; j++)
            {
                var (a, b) = (boxes[i], boxes[j]);
                var overlap = a.X < b.X + b.W && b.X < a.X + a.W && a.Y < b.Y + b.H && b.Y < a.Y + a.H;
                Assert.False(overlap, $"'{a.Title}' overlaps '{b.Title}'");
            }
        }
    }

    [Fact]
    public void Every_query_uses_the_datasource_variable_and_a_unique_ref_id()
    {
        Assert.Contains(Json["templating"]!["list"]!.AsArray(), v => (string?)v!["name"] == "datasource" && (string?)v["type"] == "datasource");
        foreach (var panel in AllPanels().Where(p => (string?)p["type"] != "row"))
        {
            var targets = panel["targets"]!.AsArray();
            Assert.NotEmpty(targets);
            Assert.Equal("${datasource}", (string?)panel["datasource"]!["uid"]);
            Assert.Equal(targets.Count, targets.Select(t => (string)t!["refId"]!).Distinct().Count());
            Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace((string?)t!["expr"]), $"{panel["title"]}: a target without a query"));
        }
    }

    [Fact]
    public void It_shows_what_the_issue_asks_for()
    {
        var expressions = string.Join('\n', Dashboard.Panels(Json).SelectMany(p => p.Expressions));
        foreach (var metric in new[]
        {
            "data_manager_audit_leader_status", "data_manager_leader_term", "data_manager_audit_cycle_seconds_bucket", "data_manager_audit_last_success_timestamp_seconds",
            "data_manager_audit_open_gaps", "data_manager_audit_duplicate_surplus", "data_manager_audit_health_score", "data_manager_audit_integrity_violations_total",
            "data_manager_messages_received_total", "data_manager_message_latency_seconds_bucket", "data_manager_last_message_timestamp_seconds",
            "data_manager_messages_dropped_total", "data_manager_messages_invalid_total", "data_manager_backfill_jobs", "data_manager_binance_weight_used",
            "data_manager_binance_banned", "data_manager_analytics_cycle_seconds_bucket",
            // Series audited per cycle and average gap size: panels operators asked for by name.
            "data_manager_audit_series_audited", "data_manager_audit_series_errors", "data_manager_audit_open_gap_seconds",
        })
        {
            Assert.Contains(metric, expressions, StringComparison.Ordinal);
        }

        // The per-series table colours the health score by level.
        var table = Dashboard.Panels(Json).Single(p => p.Type == "table" && p.Expressions.Any(e => e.Contains("health_score", StringComparison.Ordinal)));
        Assert.Equal(3, table.Expressions.Count);
    }
}
