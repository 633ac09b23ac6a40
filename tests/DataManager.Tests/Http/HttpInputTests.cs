using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Http;

/// <summary>Every bad request gets a 4xx with a problem-details body naming what is wrong; methods are a bounded set.</summary>
[Trait("Category", "Server")]
public sealed partial class HttpInputTests : IAsyncLifetime
{
    private ServiceHost _host = null!;

    public async ValueTask InitializeAsync() => _host = await ServiceHost.StartAsync();

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("/api/audits?skip=abc", "skip")]
    [InlineData("/api/audits?limit=99999999999", "limit")]
    [InlineData("/api/audits?limit=1&limit=2", "limit")]
    [InlineData("/api/audits?skip=-1", "skip")]
    [InlineData("/api/audits?from=01/02/2024", "from")]
    [InlineData("/api/audits?from=Jan%205%202024", "from")]
    [InlineData("/api/audits?to=2024-01-01%2000:00:00", "to")]
    [InlineData("/api/audits?from=2024-01-01T00:00:00", "from")]
    [InlineData("/api/audits?symbol=BTCUSDT%0A", "symbol")]
    [InlineData("/api/audits?timeframe=1h%20", "timeframe")]
    [InlineData("/api/audits?timeframe=1H", "timeframe")]
    [InlineData("/api/health-scores/BTC-USDT/1h", "symbol")]
    [InlineData("/api/health-scores/BTCUSDT/1h?limit=x", "limit")]
    [InlineData("/analytics/BTCUSDT/2w", "timeframe")]
    [InlineData("/analytics/BTCUSDT/1h/nothing", "metric")]
    [InlineData("/analytics/correlation/1h%0A", "timeframe")]
    [InlineData("/backfill/jobs?state=7", "state")]
    public async Task A_bad_query_or_route_value_is_400_with_problem_details_naming_it(string path, string parameter)
    {
        using var response = await _host.Client.GetAsync(path, TestContext.Current.CancellationToken);
        var problem = await ApiAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, parameter);
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _), problem.ToString());
    }

    /// <summary>Minimal APIs join a repeated value with a comma ("A,B"); the answer says it was given twice, not that "A,B" is no symbol.</summary>
    [Theory]
    [InlineData("/api/audits?symbol=BTCUSDT&symbol=ETHUSDT", "symbol")]
    [InlineData("/api/audits?limit=1&limit=2", "limit")]
    [InlineData("/api/incidents?timeframe=1h&timeframe=4h", "timeframe")]
    [InlineData("/api/health-scores/BTCUSDT/1h?to=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z", "to")]
    [InlineData("/analytics/BTCUSDT/1h/volatility?from=2024-01-01T00:00:00Z&from=2024-01-02T00:00:00Z", "from")]
    [InlineData("/backfill/jobs?state=pending&state=running", "state")]
    public async Task A_query_parameter_given_twice_is_400_saying_so(string path, string parameter)
    {
        using var response = await _host.Client.GetAsync(path, TestContext.Current.CancellationToken);
        var problem = await ApiAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, parameter);
        Assert.Equal(["given 2 times; expected once"], problem.GetProperty("errors").GetProperty(parameter).EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("""{"symbol":"BTCUSDT","timeframe":"1h","from":"01/02/2024","to":"2026-11-02T00:00:00Z"}""", "from")]
    [InlineData("""{"symbol":"BTCUSDT","timeframe":"1h","from":"2026-11-01T00:00:00","to":"2026-11-02T00:00:00Z"}""", "from")]
    [InlineData("""{"symbol":"BTCUSDT\n","timeframe":"1h","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""", "symbol")]
    [InlineData("""{"symbol":"BTCUSDT","timeframe":"1h ","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""", "timeframe")]
    [InlineData("""{"symbol":42,"timeframe":"1h","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""", "symbol")]
    [InlineData("""{"symbol":"BTCUSDT","timeframe":"1h","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z","extra":true}""", "extra")]
    [InlineData("""{"symbol":"BTCUSDT",""", "body")]
    [InlineData("""[1,2]""", "body")]
    [InlineData("", "body")]
    public async Task A_bad_json_body_is_400_with_problem_details_naming_the_property(string body, string property)
    {
        using var response = await _host.Client.PostAsync("/backfill/jobs", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var problem = await ApiAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, property);
        Assert.True(problem.GetProperty("errors").TryGetProperty(property, out _), problem.ToString());
        Assert.DoesNotContain("System.", problem.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A field left out (or null) is named as required, in the detail and in its error, not only "expected …".</summary>
    [Theory]
    [InlineData("""{"timeframe":"1h","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""", "'symbol' is required", new[] { "symbol" })]
    [InlineData("""{"symbol":"BTCUSDT","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""", "'timeframe' is required", new[] { "timeframe" })]
    [InlineData("""{"symbol":"BTCUSDT","timeframe":"1h","from":null,"to":"2026-11-02T00:00:00Z"}""", "'from' is required", new[] { "from" })]
    [InlineData("""{"symbol":"BTCUSDT","timeframe":"1h","from":"2026-11-01T00:00:00Z"}""", "'to' is required", new[] { "to" })]
    [InlineData("""{}""", "'symbol', 'timeframe', 'from' and 'to' are required", new[] { "symbol", "timeframe", "from", "to" })]
    public async Task A_missing_required_json_field_is_400_naming_it_as_required(string body, string detail, string[] fields)
    {
        using var response = await _host.Client.PostAsync("/backfill/jobs", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        var problem = await ApiAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, detail);
        Assert.Equal(detail, problem.GetProperty("detail").GetString());
        var errors = problem.GetProperty("errors");
        Assert.Equal(fields, errors.EnumerateObject().Select(e => e.Name).ToArray());
        Assert.All(fields, field => Assert.StartsWith("required; expected ", errors.GetProperty(field)[0].GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Symbols_are_accepted_in_either_case_and_upper_cased()
    {
        using var lower = await _host.Client.GetAsync("/api/health-scores/btcusdt/1h", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, lower.StatusCode);
        var body = JsonSerializer.Deserialize<JsonElement>(await lower.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("BTCUSDT", body.GetProperty("symbol").GetString());
        using var analytics = await _host.Client.GetAsync("/analytics/eth/1h", TestContext.Current.CancellationToken);
        await ApiAccessTests.AssertProblemAsync(analytics, HttpStatusCode.NotFound, "ETH 1h");
    }

    [Fact]
    public async Task Random_methods_are_405_and_add_one_metric_label_not_one_per_method()
    {
        var random = new Random(17);
        for (var i = 0; i < 200; i++)
        {
            var method = new string([.. Enumerable.Range(0, random.Next(3, 12)).Select(_ => (char)('A' + random.Next(26)))]);
            using var request = new HttpRequestMessage(new HttpMethod(method), i % 2 == 0 ? "/health/liveness" : "/backfill/jobs");
            using var response = await _host.Client.SendAsync(request, TestContext.Current.CancellationToken);
            await ApiAccessTests.AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, "expected one of");
        }

        var metrics = await _host.Client.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        var methods = MethodLabel().Matches(metrics).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("OTHER", methods);
        Assert.Subset(new HashSet<string> { "GET", "HEAD", "POST", "DELETE", "OPTIONS", "OTHER" }, methods);
    }

    [Theory]
    [InlineData("/health/liveness")]
    [InlineData("/health/readiness")]
    [InlineData("/health/leader")]
    [InlineData("/health/audit-status")]
    [InlineData("/metrics")]
    public async Task Health_and_metrics_answer_get_and_head_only(string path)
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            using var ok = await _host.Client.SendAsync(new HttpRequestMessage(method, path), TestContext.Current.CancellationToken);
            Assert.True(ok.IsSuccessStatusCode, $"{method} {path}: {(int)ok.StatusCode}");
        }

        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Delete, HttpMethod.Put, new HttpMethod("FOO") })
        {
            using var refused = await _host.Client.SendAsync(new HttpRequestMessage(method, path), TestContext.Current.CancellationToken);
            await ApiAccessTests.AssertProblemAsync(refused, HttpStatusCode.MethodNotAllowed, "");
        }
    }

    [Theory]
    [InlineData("/health/liveness", "GET, HEAD")]
    [InlineData("/backfill/jobs/00000000000000000000000000", "GET, DELETE")]
    public async Task Every_unmapped_method_is_the_same_405_naming_the_routes_own_methods(string path, string allowed)
    {
        var mapped = allowed.Split(", ");
        foreach (var method in new[] { "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "FOO" }.Where(m => !mapped.Contains(m)))
        {
            using var response = await _host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), TestContext.Current.CancellationToken);
            Assert.Equal(mapped.Order(StringComparer.Ordinal), response.Content.Headers.Allow.Order(StringComparer.Ordinal));
            var problem = await ApiAccessTests.AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, $"expected one of {string.Join(", ", response.Content.Headers.Allow)}");
            Assert.Equal("Method Not Allowed", problem.GetProperty("title").GetString());
        }
    }

    [GeneratedRegex("[{,]method=\"([^\"]*)\"")]
    private static partial Regex MethodLabel();
}
