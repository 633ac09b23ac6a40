using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Http;

/// <summary>
/// A seeded, table-driven fuzz run against the built service on loopback: every route, method, parameter and body
/// shape, a few thousand requests. No 5xx, every 4xx a problem-details body, no stack trace or secret in any body,
/// and afterwards the process is alive, its RSS bounded and its metric labels bounded.
/// </summary>
[Trait("Category", "Server")]
public sealed partial class ApiFuzzTests
{
    private const int Seed = 20261126;
    private const int Requests = 3_000;
    private const string MysqlPassword = "fuzz-mysql-Pa55";
    private const string NatsPassword = "fuzz-nats-Pa55";

    private static readonly string[] Routes =
    [
        "/health/liveness", "/health/readiness", "/health/leader", "/health/audit-status", "/metrics", "/openapi/v1.json", "/api/tracker",
        "/api/audits", "/api/health-scores/{symbol}/{timeframe}", "/analytics/{symbol}/{timeframe}", "/analytics/{symbol}/{timeframe}/{metric}",
        "/analytics/correlation/{timeframe}", "/backfill/jobs", "/backfill/jobs/{id}", "/{junk}", "/api/{junk}", "/backfill/{junk}/{junk}",
    ];

    private static readonly string[] Methods = ["GET", "GET", "GET", "HEAD", "POST", "POST", "DELETE", "OPTIONS", "PUT", "PATCH", "TRACE", "FOO", "get", "PROPFIND"];

    private static readonly string[] Values =
    [
        "BTCUSDT", "btcusdt", "ETHUSDT", "B", "BTCUSDT\n", "BTC USDT", "1h", "1H", "1h ", "2w", "5m", "1d", "volatility", "regime", "nothing",
        "pending", "RUNNING", "7", "-1", "0", "1", "1000", "99999999999", "1e3", "0x10", "abc", "", " ", "null", "true",
        "2026-11-01T00:00:00Z", "2026-11-01T00:00:00+02:00", "2026-11-01T00:00:00", "01/02/2024", "Jan 5 2024", "2024-01-01 00:00:00",
        "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "' OR 1=1 --", "\"; DROP TABLE klines_h1; --", "{\"$gt\":\"\"}", "../../etc/passwd",
        "%00", "%2e%2e%2f", "<script>alert(1)</script>", "☃€𝄞", new string('A', 3_000), "\u0000", "${jndi:ldap://x}",
    ];

    private static readonly string[] QueryNames = ["symbol", "timeframe", "from", "to", "skip", "limit", "state", "metric", "unknown", "skip", "limit"];

    [Fact]
    public async Task Thousands_of_fuzzed_requests_get_no_5xx_a_problem_body_for_every_4xx_and_leak_nothing()
    {
        SecretsTests.SkipWithoutNatsServer();
        var port = ServerAvailability.FreePort();
        var dataDir = ServerAvailability.TempDirectory("dm-fuzz");
        try
        {
            await using var process = ServiceExecutable.Start(new Dictionary<string, string?>
            {
                ["DATA_DIR"] = dataDir,
                ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["LOG_LEVEL"] = "warning",
                ["MYSQL_URI"] = $"mysql://reader:{MysqlPassword}@127.0.0.1:{ServerAvailability.FreePort().ToString(CultureInfo.InvariantCulture)}/binance",
                ["NATS_URL"] = $"nats://dm:{NatsPassword}@127.0.0.1:{ServerAvailability.FreePort().ToString(CultureInfo.InvariantCulture)}",
                [DataManager.Http.ApiAccessOptions.TokensSetting] = ApiAccessTests.Tokens,
                ["API_WRITE_RATE_LIMIT"] = "200",
                ["BACKFILL_MAX_MANUAL_JOBS"] = "50",
                ["ENABLE_BACKFILLER"] = "true", // else every valid job is a 409; the jobs are never run:
                ["BACKFILL_POLL_INTERVAL"] = "3600",
                ["BINANCE_FAPI_BASE_URL"] = "http://127.0.0.1:9",
            });
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 8 })
            {
                BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"),
                Timeout = TimeSpan.FromSeconds(30),
            };
            await ServiceExecutable.WaitForLivenessAsync(client, process);

            var random = new Random(Seed);
            var requests = Enumerable.Range(0, Requests).Select(_ => Generate(random)).ToList();
            var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
            var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
            await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = TestContext.Current.CancellationToken }, async (fuzz, ct) =>
            {
                HttpResponseMessage? response = null;
                var body = "";
                // Kestrel closes a connection after refusing a body it did not read; a request the pool sent on it
                // in that instant gets no answer, so a request without an answer is sent once more.
                for (var attempt = 0; attempt < 2 && response is null; attempt++)
                {
                    using var request = fuzz.ToRequest();
                    try
                    {
                        response = await client.SendAsync(request, ct);
                        body = await response.Content.ReadAsStringAsync(ct);
                    }
                    catch (HttpRequestException e) when (attempt == 0)
                    {
                        _ = e;
                    }
                    catch (HttpRequestException e)
                    {
                        failures.Add($"{fuzz}: no answer ({e.InnerException?.Message ?? e.Message})");
                        return;
                    }
                }

                if (response is null)
                {
                    return;
                }

                using var answered = response;
                var status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                var problem = Check(fuzz, response, body);
                if (problem is not null)
                {
                    failures.Add($"{fuzz}: {status} {problem}: {(body.Length > 300 ? body[..300] : body)}");
                }
            });

            Assert.True(failures.IsEmpty, $"{failures.Count} of {Requests} failed, e.g.:\n" + string.Join("\n", failures.Take(15)));
            // The run reached the handlers, not only the front door.
            Assert.True(statuses.GetValueOrDefault(200) > 100 && statuses.GetValueOrDefault(400) > 100 && statuses.GetValueOrDefault(405) > 100
                && statuses.GetValueOrDefault(202) > 0 && statuses.GetValueOrDefault(401) > 0,
                string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")));

            Assert.False(process.HasExited, "the service died during the run:\n" + process.Output);
            using var alive = await client.GetAsync("/health/liveness", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
            var rssMb = ResidentMegabytes(process.Id);
            Assert.True(rssMb < 350, $"RSS {rssMb} MB after the run (the pod's limit is 384 Mi)");
            var metrics = await client.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
            var methodLabels = MethodLabel().Matches(metrics).Select(m => m.Groups[1].Value).ToHashSet();
            Assert.True(methodLabels.IsSubsetOf(["GET", "HEAD", "POST", "DELETE", "OPTIONS", "OTHER"]), string.Join(", ", methodLabels));
            // ASP.NET Core's own request metric keeps its fixed list (the standard methods and _OTHER).
            Assert.True(RuntimeMethodLabel().Matches(metrics).Select(m => m.Groups[1].Value).Distinct().Count() <= 10);
            Assert.DoesNotContain(MysqlPassword, process.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(NatsPassword, process.Output, StringComparison.Ordinal);
        }
        finally
        {
            LocalServers.DeleteDirectory(dataDir);
        }
    }

    private static string? Check(Fuzz fuzz, HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        if (status >= 500)
        {
            return "server error";
        }

        foreach (var secret in new[] { MysqlPassword, NatsPassword, ApiAccessTests.OpsToken, ApiAccessTests.CiToken })
        {
            if (body.Contains(secret, StringComparison.Ordinal))
            {
                return "secret in body";
            }
        }

        if (StackTrace().IsMatch(body))
        {
            return "stack trace in body";
        }

        if (status < 400 || fuzz.Method == "HEAD")
        {
            return null;
        }

        if (response.Content.Headers.ContentType?.MediaType is not ("application/problem+json" or "application/json"))
        {
            return "4xx without a JSON problem body";
        }

        try
        {
            var problem = JsonSerializer.Deserialize<JsonElement>(body);
            return problem.TryGetProperty("status", out var s) && s.GetInt32() == status && problem.TryGetProperty("title", out _)
                ? status == 400 && !problem.TryGetProperty("errors", out _) ? "400 naming no parameter" : null
                : "problem body without status and title";
        }
        catch (JsonException)
        {
            return "4xx body is not JSON";
        }
    }

    private static Fuzz Generate(Random random)
    {
        var route = Routes[random.Next(Routes.Length)];
        // A NUL in the path is refused by Kestrel itself (an empty 400 before the app runs); everywhere else it is fuzzed.
        var path = TemplateValue().Replace(route, _ => Uri.EscapeDataString(Values[random.Next(Values.Length)].Replace("\u0000", "", StringComparison.Ordinal).Replace("%00", "%01", StringComparison.Ordinal)) is { Length: > 0 } v ? v : "x");
        var query = new StringBuilder();
        for (var i = random.Next(0, 4); i > 0; i--)
        {
            query.Append(query.Length == 0 ? '?' : '&').Append(QueryNames[random.Next(QueryNames.Length)]).Append('=').Append(Uri.EscapeDataString(Values[random.Next(Values.Length)]));
        }

        var method = Methods[random.Next(Methods.Length)];
        if (random.Next(3) == 0 && method is "POST")
        {
            path = "/backfill/jobs";
        }

        var token = random.Next(5) switch
        {
            0 => null,
            1 => "wrong-" + ApiAccessTests.OpsToken,
            2 => ApiAccessTests.CiToken,
            _ => ApiAccessTests.OpsToken,
        };
        return new Fuzz(method, path + query, method is "POST" or "PUT" or "PATCH" || random.Next(10) == 0 ? Body(random) : null,
            random.Next(6) == 0 ? "text/plain" : "application/json", token);
    }

    private static string Body(Random random)
    {
        string V() => JsonSerializer.Serialize(Values[random.Next(Values.Length)]);
        return random.Next(12) switch
        {
            0 => """{"symbol":"BTCUSDT","timeframe":"1h","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""",
            1 => $$"""{"symbol":{{V()}},"timeframe":{{V()}},"from":{{V()}},"to":{{V()}}}""",
            2 => $$"""{"symbol":"ethusdt","timeframe":"5m","from":"2026-11-01T00:00:00+01:00","to":"2026-11-01T06:00:00Z","{{random.Next(100)}}":1}""",
            3 => """{"symbol":42,"timeframe":[],"from":{},"to":null}""",
            4 => "{\"symbol\":\"BTCUSDT\"",
            5 => "[" + string.Join(",", Enumerable.Repeat("1", random.Next(1, 50))) + "]",
            6 => new string('[', random.Next(1, 200)) + new string(']', random.Next(1, 200)),
            7 => "{\"symbol\":\"" + new string('A', random.Next(1_000, 90_000)) + "\"}",
            8 => "",
            9 => """{"symbol":"BTCUSDT","symbol":"ETHUSDT","timeframe":"1h","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}""",
            10 => """{"symbol":"BTCUSDT","timeframe":"1h","from":"2026-11-02T00:00:00Z","to":"2026-11-01T00:00:00Z"}""",
            _ => "not json at all " + V(),
        };
    }

    private static double ResidentMegabytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    private sealed record Fuzz(string Method, string PathAndQuery, string? Body, string ContentType, string? Token)
    {
        public HttpRequestMessage ToRequest()
        {
            var request = new HttpRequestMessage(new HttpMethod(Method), PathAndQuery);
            if (Body is not null)
            {
                request.Content = new StringContent(Body, Encoding.UTF8);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(ContentType) { CharSet = "utf-8" };
            }

            if (Token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            }

            return request;
        }

        public override string ToString() => $"{Method} {(PathAndQuery.Length > 120 ? PathAndQuery[..120] + "…" : PathAndQuery)} body {Body?.Length.ToString(CultureInfo.InvariantCulture) ?? "none"} token {Token is not null}";
    }

    [GeneratedRegex(@"\{[a-z]+\}")]
    private static partial Regex TemplateValue();

    [GeneratedRegex(@"\n\s+at [\w.`<>]+\(|--- End of stack trace|\bat System\.[\w.]+\(")]
    private static partial Regex StackTrace();

    [GeneratedRegex("http_request_method=\"([^\"]*)\"")]
    private static partial Regex RuntimeMethodLabel();

    [GeneratedRegex("[{,]method=\"([^\"]*)\"")]
    private static partial Regex MethodLabel();
}
