using System.Text.Json;
using System.Text.RegularExpressions;
using DataManager.Http;
using DataManager.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Http;

/// <summary>/openapi/v1.json describes every mapped route, the bearer scheme on writes, and the README's examples.</summary>
[Trait("Category", "Server")]
public sealed partial class OpenApiContractTests : IAsyncLifetime
{
    private ServiceHost _host = null!;
    private JsonElement _document;

    public async ValueTask InitializeAsync()
    {
        _host = await ServiceHost.StartAsync();
        _document = JsonSerializer.Deserialize<JsonElement>(await _host.Client.GetStringAsync(ApiContract.DocumentPath, TestContext.Current.CancellationToken));
    }

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public void The_document_lists_every_mapped_route_and_method()
    {
        var paths = _document.GetProperty("paths");
        var endpoints = _host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        Assert.True(endpoints.Count >= 14, $"only {endpoints.Count} endpoints");
        Assert.Contains(endpoints, e => e.RoutePattern.RawText == ApiContract.DocumentRoute);
        foreach (var endpoint in endpoints.Where(e => e.RoutePattern.RawText != ApiContract.DocumentRoute))
        {
            var path = ApiContract.DocumentPathOf(endpoint.RoutePattern.RawText!);
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is not in the document");
            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods)
            {
                Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out var operation), $"{method} {path} is not in the document");
                Assert.True(operation.GetProperty("responses").TryGetProperty("405", out _), $"{method} {path} does not document 405");
            }
        }
    }

    [Fact]
    public void The_document_leaves_out_its_own_route()
    {
        var paths = _document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.DoesNotContain(paths, path => path.StartsWith("/openapi", StringComparison.Ordinal));
    }

    [Fact]
    public void Writes_carry_the_bearer_scheme_and_their_problem_details_and_reads_do_not()
    {
        Assert.Equal("bearer", _document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer").GetProperty("scheme").GetString());
        foreach (var path in _document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "head" or "post" or "delete"))
            {
                var write = operation.Name is "post" or "delete";
                Assert.Equal(write, operation.Value.TryGetProperty("security", out _));
                var responses = operation.Value.GetProperty("responses");
                if (write)
                {
                    foreach (var status in new[] { "401", "403", "429" })
                    {
                        Assert.Equal("application/problem+json", responses.GetProperty(status).GetProperty("content").EnumerateObject().Single().Name);
                    }
                }
            }
        }

        var create = _document.GetProperty("paths").GetProperty("/backfill/jobs").GetProperty("post");
        Assert.Equal(["from", "symbol", "timeframe", "to"], Properties(create.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema")).Order());
        Assert.Contains("createdBy", Properties(create.GetProperty("responses").GetProperty("202").GetProperty("content").GetProperty("application/json").GetProperty("schema")));
    }

    [Fact]
    public void Backfill_conflicts_and_the_next_page_headers_are_documented()
    {
        var jobs = _document.GetProperty("paths").GetProperty("/backfill/jobs");
        var job = _document.GetProperty("paths").GetProperty("/backfill/jobs/{id}");
        foreach (var operation in new[] { jobs.GetProperty("post"), job.GetProperty("delete") })
        {
            Assert.Equal("application/problem+json", operation.GetProperty("responses").GetProperty("409").GetProperty("content").EnumerateObject().Single().Name);
        }

        var headers = jobs.GetProperty("get").GetProperty("responses").GetProperty("200").GetProperty("headers");
        Assert.Equal(["Link", "X-Next-Cursor"], headers.EnumerateObject().Select(h => h.Name).Order(StringComparer.Ordinal));
        Assert.Equal("string", headers.GetProperty("X-Next-Cursor").GetProperty("schema").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Every_curl_example_in_the_readme_names_a_documented_path_method_parameter_and_body()
    {
        // The README and the pages under docs/ it links to: an operator copies examples from both.
        var pages = Directory.GetFiles(RepositoryRoot.Combine("docs"), "*.md").Prepend(RepositoryRoot.Combine("README.md"));
        var readme = string.Join('\n', await Task.WhenAll(pages.Select(page => File.ReadAllTextAsync(page, TestContext.Current.CancellationToken))));
        var examples = CurlLine().Matches(readme).ToList();
        Assert.True(examples.Count >= 8, $"only {examples.Count} curl examples");
        Assert.Contains(examples, e => e.Value.Contains("Authorization: Bearer", StringComparison.Ordinal));
        foreach (var example in examples)
        {
            var line = example.Value;
            var url = new Uri("http://localhost:8000" + example.Groups["path"].Value);
            var method = MethodOption().Match(line) is { Success: true } m ? m.Groups[1].Value.ToLowerInvariant() : "get";
            var operation = Operation(url.AbsolutePath, method, line);
            var parameters = operation.TryGetProperty("parameters", out var list) ? list.EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToHashSet() : [];
            foreach (var name in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Select(q => q.Split('=')[0]))
            {
                Assert.True(parameters.Contains(name), $"README: {line}: {name} is not a parameter of {method} {url.AbsolutePath}");
            }

            if (BodyOption().Match(line) is { Success: true } body)
            {
                var schema = operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
                var keys = JsonSerializer.Deserialize<JsonElement>(body.Groups[1].Value).EnumerateObject().Select(p => p.Name);
                Assert.Subset(Properties(schema).ToHashSet(), keys.ToHashSet());
            }
        }
    }

    private JsonElement Operation(string path, string method, string line)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var candidate in _document.GetProperty("paths").EnumerateObject())
        {
            var template = candidate.Name.Split('/', StringSplitOptions.RemoveEmptyEntries);
            // Literal segments first: /analytics/correlation/1h is the correlation route, not {symbol}/{timeframe}.
            if (template.Length == segments.Length && template.Zip(segments).All(p => p.First.StartsWith('{') || p.First == p.Second)
                && !_document.GetProperty("paths").EnumerateObject().Any(o => o.Name != candidate.Name && MoreLiteral(o.Name, candidate.Name, segments))
                && candidate.Value.TryGetProperty(method, out var operation))
            {
                return operation;
            }
        }

        Assert.Fail($"README: {line}: {method} {path} is not in the document");
        return default;
    }

    private static bool MoreLiteral(string other, string than, string[] segments)
    {
        var template = other.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return template.Length == segments.Length && template.Zip(segments).All(p => p.First.StartsWith('{') || p.First == p.Second)
            && template.Count(t => !t.StartsWith('{')) > than.Split('/', StringSplitOptions.RemoveEmptyEntries).Count(t => !t.StartsWith('{'));
    }

    private IEnumerable<string> Properties(JsonElement schema)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            schema = _document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }

        return schema.GetProperty("properties").EnumerateObject().Select(p => p.Name);
    }

    [GeneratedRegex(@"curl [^\n]*?localhost:8000(?<path>/[^\s'""|]*)[^\n]*")]
    private static partial Regex CurlLine();

    [GeneratedRegex(@"-X (\w+)")]
    private static partial Regex MethodOption();

    [GeneratedRegex(@"-d '(\{[^']*\})'")]
    private static partial Regex BodyOption();
}
