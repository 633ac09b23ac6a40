using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using DataManager.Http;
using DataManager.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Http;

/// <summary>Who may change what, and how much: the real service on loopback.</summary>
public sealed class ApiAccessTests
{
    internal const string OpsToken = "ops-token-0123456789abcdef";
    internal const string CiToken = "ci-token-fedcba9876543210";
    internal const string Tokens = "ops:" + OpsToken + ",ci:" + CiToken;

    private static readonly string Job = """{"symbol":"btcusdt","timeframe":"1h","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""";

    [Fact]
    public async Task Writes_need_a_bearer_token_from_the_setting_and_the_job_records_the_token_name()
    {
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?> { [ApiAccessOptions.TokensSetting] = Tokens });

        using var anonymous = await PostJobAsync(host.Client, null);
        await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, "Bearer");
        Assert.StartsWith("Bearer", anonymous.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        using var wrong = await PostJobAsync(host.Client, OpsToken + "x");
        await AssertProblemAsync(wrong, HttpStatusCode.Unauthorized, "not one of DATA_MANAGER_API_TOKENS");

        // Both tokens are accepted at once (rotation): each job names the token that created it.
        using var created = await PostJobAsync(host.Client, OpsToken);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var job = await created.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal("ops", job.GetProperty("createdBy").GetString());
        Assert.Equal("BTCUSDT", job.GetProperty("symbol").GetString());
        var id = job.GetProperty("id").GetString();

        // Reads stay open; a cancel is a write.
        using var read = await host.Client.GetAsync($"/backfill/jobs/{id}", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using var anonymousCancel = await host.Client.DeleteAsync($"/backfill/jobs/{id}", TestContext.Current.CancellationToken);
        await AssertProblemAsync(anonymousCancel, HttpStatusCode.Unauthorized, "Bearer");
        using var cancel = new HttpRequestMessage(HttpMethod.Delete, $"/backfill/jobs/{id}") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", CiToken) } };
        using var cancelled = await host.Client.SendAsync(cancel, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
    }

    [Fact]
    public async Task With_no_token_outside_embedded_mode_writes_answer_403_naming_the_setting()
    {
        // MySQL configured (unreachable: the write is refused before anything touches it) → not embedded mode.
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?> { ["MYSQL_URI"] = "mysql://reader:pw@127.0.0.1:1/binance" });
        using var response = await PostJobAsync(host.Client, null);
        await AssertProblemAsync(response, HttpStatusCode.Forbidden, ApiAccessOptions.TokensSetting);
        using var withToken = await PostJobAsync(host.Client, OpsToken);
        await AssertProblemAsync(withToken, HttpStatusCode.Forbidden, ApiAccessOptions.TokensSetting);
    }

    [Fact]
    public async Task In_embedded_mode_with_no_token_writes_stay_open_for_the_local_demo()
    {
        await using var host = await ServiceHost.StartAsync();
        using var response = await PostJobAsync(host.Client, null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal("local", job.GetProperty("createdBy").GetString());
    }

    [Fact]
    public async Task Writes_are_rate_limited_per_token_with_429_and_retry_after()
    {
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            [ApiAccessOptions.TokensSetting] = Tokens,
            ["API_WRITE_RATE_LIMIT"] = "3",
        });
        for (var i = 0; i < 3; i++)
        {
            using var ok = await PostJobAsync(host.Client, OpsToken);
            Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        }

        using var limited = await PostJobAsync(host.Client, OpsToken);
        var problem = await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, "API_WRITE_RATE_LIMIT");
        Assert.Equal("https://tools.ietf.org/html/rfc6585#section-4", problem.GetProperty("type").GetString());
        Assert.True(limited.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 and <= 60 }, $"Retry-After: {limited.Headers.RetryAfter}");

        // Another token has its own budget.
        using var other = await PostJobAsync(host.Client, CiToken);
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
    }

    [Fact]
    public async Task Pending_and_running_manual_jobs_are_capped_with_409()
    {
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?> { ["BACKFILL_MAX_MANUAL_JOBS"] = "2" });
        for (var i = 0; i < 2; i++)
        {
            using var ok = await PostJobAsync(host.Client, null);
            Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        }

        using var full = await PostJobAsync(host.Client, null);
        await AssertProblemAsync(full, HttpStatusCode.Conflict, "BACKFILL_MAX_MANUAL_JOBS");
    }

    [Fact]
    public async Task Bodies_over_64_KiB_are_413_and_unknown_or_duplicate_properties_are_400()
    {
        await using var host = await ServiceHost.StartAsync();
        var big = "{\"symbol\":\"" + new string('A', 70 * 1024) + "\"}";
        using var tooLarge = await host.Client.PostAsync("/backfill/jobs", new StringContent(big, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        await AssertProblemAsync(tooLarge, HttpStatusCode.RequestEntityTooLarge, "");

        using var unknown = await host.Client.PostAsync("/backfill/jobs", new StringContent(Job.Replace("}", ",\"priority\":9}", StringComparison.Ordinal), Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        await AssertProblemAsync(unknown, HttpStatusCode.BadRequest, "priority");

        using var duplicate = await host.Client.PostAsync("/backfill/jobs", new StringContent(Job.Replace("{", "{\"symbol\":\"ETHUSDT\",", StringComparison.Ordinal), Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        await AssertProblemAsync(duplicate, HttpStatusCode.BadRequest, "symbol");
    }

    [Fact]
    public async Task Every_state_changing_endpoint_requires_the_token_policy_and_the_rate_limit()
    {
        await using var host = await ServiceHost.StartAsync();
        var endpoints = host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Any(m => m is not ("GET" or "HEAD" or "OPTIONS")) ?? true)
            .ToList();
        Assert.Contains(endpoints, e => e.RoutePattern.RawText == "/backfill/jobs/");
        Assert.All(endpoints, e =>
        {
            Assert.True(e.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(a => a.Policy == ApiHttpExtensions.WritePolicy), $"{e.DisplayName} has no write policy");
            Assert.Equal(ApiHttpExtensions.WritePolicy, e.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName);
        });
    }

    [Theory]
    [InlineData(",", "at least one")]
    [InlineData("ops", "entry 1")]
    [InlineData("ops:short", "entry 1")]
    [InlineData("ops:" + OpsToken + ",ops:" + CiToken, "twice")]
    public void A_bad_token_list_is_a_configuration_error_that_never_shows_a_token(string value, string expected)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [ApiAccessOptions.TokensSetting] = value }).Build();
        var errors = DataManager.Hosting.DataManagerSettings.Bind(configuration).Errors;
        var error = Assert.Single(errors);
        Assert.Contains(ApiAccessOptions.TokensSetting, error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain(CiToken, error, StringComparison.Ordinal);
        Assert.DoesNotContain("short", error, StringComparison.Ordinal);
    }

    internal static async Task<HttpResponseMessage> PostJobAsync(HttpClient client, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/backfill/jobs") { Content = new StringContent(Job, Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Contains("json", response.Content.Headers.ContentType?.MediaType ?? "", StringComparison.Ordinal);
        var problem = JsonSerializer.Deserialize<JsonElement>(body);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("title", out _), body);
        // Every problem body names its type, the statuses the framework has no default for (413, 429) included.
        Assert.True(problem.TryGetProperty("type", out var type) && type.GetString() is { Length: > 0 }, body);
        Assert.Contains(detailContains, body, StringComparison.Ordinal);
        return problem;
    }
}
