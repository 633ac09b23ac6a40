using System.Text.Json.Nodes;

namespace DataManager.Tests.Deployment;

/// <summary>The panels and PromQL of the Grafana dashboard (k8s/base/dashboard.json).</summary>
public static class Dashboard
{
    /// <summary>Grafana's built-in interval variables and the dashboard's own variables, as a query of the whole range.</summary>
    private static readonly (string Variable, string Value)[] Substitutions =
    [
        ("$__rate_interval", "15s"), ("$__interval", "5s"), ("$__range", "5m"), ("$symbol", ".*"),
    ];

    public sealed record Panel(string Title, string Type, IReadOnlyList<string> Expressions);

    public static JsonNode Load() => JsonNode.Parse(File.ReadAllText(Manifests.Directory("base/dashboard.json")))!;

    /// <summary>Every panel that queries (rows excluded, panels nested in collapsed rows included).</summary>
    public static IReadOnlyList<Panel> Panels(JsonNode dashboard) =>
        [.. dashboard["panels"]!.AsArray()
            .SelectMany(p => (string?)p!["type"] == "row" ? (IEnumerable<JsonNode?>?)p["panels"]?.AsArray() ?? [] : new[] { p })
            .Select(p => new Panel((string)p!["title"]!, (string)p["type"]!,
                [.. (p["targets"]?.AsArray() ?? []).Select(t => (string?)t!["expr"]).OfType<string>()]))];

    /// <summary>The expression as Grafana would send it: its variables replaced.</summary>
    public static string Resolve(string expression) =>
        Substitutions.Aggregate(expression, (text, s) => text.Replace(s.Variable, s.Value, StringComparison.Ordinal));
}
