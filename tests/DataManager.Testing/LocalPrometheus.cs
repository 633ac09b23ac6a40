using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace DataManager.Testing;

/// <summary>
/// An ephemeral Prometheus (the Debian package's binary) scraping the given targets every second and evaluating the
/// given rule file, with its TSDB in a temp directory removed on dispose.
/// </summary>
public sealed class LocalPrometheus : IAsyncDisposable
{
    private readonly LocalProcess _process;
    private readonly string _directory;

    private LocalPrometheus(LocalProcess process, string directory, Uri url)
    {
        _process = process;
        _directory = directory;
        Client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
    }

    public HttpClient Client { get; }

    public string Output => _process.Output;

    public static bool IsInstalled => LocalServers.FindBinary("prometheus") is not null;

    /// <param name="target">host:port of the /metrics endpoint.</param>
    /// <param name="targetLabels">Labels the scrape adds to every series (as a ServiceMonitor adds pod and namespace).</param>
    /// <param name="ruleFileYaml">A Prometheus rule file, evaluated every second; null for none.</param>
    public static Task<LocalPrometheus> StartAsync(string target, IReadOnlyDictionary<string, string> targetLabels, string? ruleFileYaml) =>
        StartAsync([(target, targetLabels)], ruleFileYaml);

    /// <summary>Several targets (replicas), each with its own labels.</summary>
    public static async Task<LocalPrometheus> StartAsync(IReadOnlyList<(string Target, IReadOnlyDictionary<string, string> Labels)> targets, string? ruleFileYaml)
    {
        var directory = LocalServers.TempDirectory("dm-prometheus");
        var staticConfigs = string.Join("\n", targets.Select(t =>
            $"      - targets: [\"{t.Target}\"]\n        labels: {{ {string.Join(", ", t.Labels.Select(l => $"{l.Key}: \"{l.Value}\""))} }}"));
        var config = $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            {(ruleFileYaml is null ? "" : "rule_files: [rules.yaml]")}
            scrape_configs:
              - job_name: data-manager
                metrics_path: /metrics
                static_configs:
            {staticConfigs}
            """;
        await File.WriteAllTextAsync(Path.Combine(directory, "prometheus.yml"), config);
        if (ruleFileYaml is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "rules.yaml"), ruleFileYaml);
        }

        return await StartProcessAsync(directory, Path.Combine(directory, "data"), []);
    }

    /// <summary>
    /// A Prometheus serving queries over an existing TSDB (blocks made by <c>promtool tsdb create-blocks-from</c>),
    /// scraping nothing, with the rule file loaded. Retention is unlimited, so blocks however old stay queryable.
    /// </summary>
    public static async Task<LocalPrometheus> StartOnTsdbAsync(string tsdbDirectory, string ruleFileYaml)
    {
        var directory = LocalServers.TempDirectory("dm-prometheus");
        await File.WriteAllTextAsync(Path.Combine(directory, "prometheus.yml"), "global:\n  evaluation_interval: 1m\nrule_files: [rules.yaml]\n");
        await File.WriteAllTextAsync(Path.Combine(directory, "rules.yaml"), ruleFileYaml);
        return await StartProcessAsync(directory, tsdbDirectory, ["--storage.tsdb.retention.time=100y"]);
    }

    private static async Task<LocalPrometheus> StartProcessAsync(string directory, string tsdbDirectory, IReadOnlyList<string> extraArguments)
    {
        // Prometheus cannot report a port it picked itself: take a free one right before the start, and start again
        // on another when a concurrent run took it in between.
        for (var attempt = 1; ; attempt++)
        {
            var port = LocalServers.FreePort();
            var process = LocalProcess.Start(LocalServers.FindBinary("prometheus") ?? throw new InvalidOperationException("prometheus is not installed"),
            [
                "--config.file=" + Path.Combine(directory, "prometheus.yml"),
                "--storage.tsdb.path=" + tsdbDirectory,
                "--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
                "--log.level=warn",
                .. extraArguments,
            ], workingDirectory: directory);
            var prometheus = new LocalPrometheus(process, directory, new Uri($"http://127.0.0.1:{port}"));
            try
            {
                await Eventually.UntilAsync($"prometheus on port {port} answers /-/ready",
                    async token => (await prometheus.Client.GetAsync("/-/ready", token)).IsSuccessStatusCode && !process.HasExited,
                    TimeSpan.FromMinutes(2), abandonIf: () => process.HasExited ? "prometheus exited" : null);
                return prometheus;
            }
            catch (InvalidOperationException) when (attempt < 5 && process.Output.Contains("address already in use", StringComparison.Ordinal))
            {
                prometheus.Client.Dispose();
                await process.DisposeAsync();
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                var output = process.Output;
                await prometheus.DisposeAsync();
                throw new InvalidOperationException($"prometheus did not become ready: {e.Message}; output: {output}", e);
            }
        }
    }

    /// <summary>An instant query through the HTTP API: the whole answer (status, data or errorType and error).</summary>
    public async Task<JsonObject> QueryAsync(string expression, CancellationToken cancellationToken)
    {
        using var form = new FormUrlEncodedContent([KeyValuePair.Create("query", expression)]);
        using var response = await Client.PostAsync("/api/v1/query", form, cancellationToken);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!;
    }

    /// <summary>A range query through the HTTP API (<c>/api/v1/query_range</c>): the whole answer.</summary>
    public async Task<JsonObject> QueryRangeAsync(string expression, DateTimeOffset start, DateTimeOffset end, TimeSpan step, CancellationToken cancellationToken)
    {
        using var form = new FormUrlEncodedContent(
        [
            KeyValuePair.Create("query", expression),
            KeyValuePair.Create("start", start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("end", end.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("step", step.TotalSeconds.ToString(CultureInfo.InvariantCulture)),
        ]);
        using var response = await Client.PostAsync("/api/v1/query_range", form, cancellationToken);
        return (await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!;
    }

    /// <summary>A GET of another API path (/api/v1/rules, /api/v1/targets).</summary>
    public async Task<JsonObject> QueryApiAsync(string path, CancellationToken cancellationToken) =>
        (await Client.GetFromJsonAsync<JsonObject>(path, cancellationToken))!;

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _process.DisposeAsync();
        LocalServers.DeleteDirectory(_directory);
    }
}
