using System.Globalization;
using System.Net;
using System.Text.Json;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace DataManager.Tests.Http;

/// <summary>NATS credentials that work, and no secret in any log line or response.</summary>
public sealed class SecretsTests
{
    private const string NatsPassword = "nats-Pa55word-7c1f";
    private const string NatsToken = "nats-T0ken-88e2a9";


    [Theory]
    [InlineData("user:password in NATS_URL")]
    [InlineData("NATS_USER and NATS_PASSWORD")]
    [InlineData("token in NATS_URL")]
    [InlineData("NATS_TOKEN")]
    public async Task The_tracker_connects_to_a_nats_server_that_requires_authentication(string form)
    {
        SkipWithoutNatsServer();
        var token = form.Contains("token", StringComparison.OrdinalIgnoreCase);
        await using var nats = token ? await LocalNats.StartAsync("--auth", NatsToken) : await LocalNats.StartAsync("--user", "dm", "--pass", NatsPassword);
        var hostPort = $"127.0.0.1:{nats.Port.ToString(CultureInfo.InvariantCulture)}";
        var settings = form switch
        {
            "user:password in NATS_URL" => new Dictionary<string, string?> { ["NATS_URL"] = $"nats://dm:{NatsPassword}@{hostPort}" },
            "NATS_USER and NATS_PASSWORD" => new Dictionary<string, string?> { ["NATS_URL"] = $"nats://{hostPort}", ["NATS_USER"] = "dm", ["NATS_PASSWORD"] = NatsPassword },
            "token in NATS_URL" => new Dictionary<string, string?> { ["NATS_URL"] = $"nats://{NatsToken}@{hostPort}" },
            _ => new Dictionary<string, string?> { ["NATS_URL"] = $"nats://{hostPort}", ["NATS_TOKEN"] = NatsToken },
        };
        await using var host = await ServiceHost.StartAsync(settings);

        var nat = await WaitForNatsCheckAsync(host.Client, "Healthy");
        Assert.Contains($"nats://{hostPort} connected", nat, StringComparison.Ordinal);
        Assert.DoesNotContain(NatsPassword, nat, StringComparison.Ordinal);
        Assert.DoesNotContain(NatsToken, nat, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_nats_password_stays_disconnected_and_is_not_shown()
    {
        SkipWithoutNatsServer();
        await using var nats = await LocalNats.StartAsync("--user", "dm", "--pass", NatsPassword);
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["NATS_URL"] = $"nats://dm:wrong-{NatsPassword}@127.0.0.1:{nats.Port.ToString(CultureInfo.InvariantCulture)}",
        });
        await Task.Delay(1_500, TestContext.Current.CancellationToken);
        var check = await WaitForNatsCheckAsync(host.Client, "Degraded");
        Assert.DoesNotContain(NatsPassword, check, StringComparison.Ordinal);
    }

    /// <summary>
    /// A password planted in MYSQL_URI, MONGODB_URL and NATS_URL (and an API token) appears in no log line of the
    /// process and in no body of any endpoint.
    /// </summary>
    [Fact]
    public async Task Planted_passwords_appear_in_no_log_line_and_no_response_body()
    {
        SkipWithoutNatsServer();
        const string mysqlPassword = "mysql-Pl4nted-5ecret";
        const string mongoPassword = "mongo-Pl4nted-5ecret";
        await using var nats = await LocalNats.StartAsync("--user", "dm", "--pass", NatsPassword);
        var port = ServerAvailability.FreePort();
        var dataDir = ServerAvailability.TempDirectory("dm-secrets");
        try
        {
            await using var process = ServiceExecutable.Start(new Dictionary<string, string?>
            {
                ["DATA_DIR"] = dataDir,
                ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["LOG_LEVEL"] = "trace",
                ["INITIAL_STARTUP_DELAY"] = "0",
                ["SHUTDOWN_TIMEOUT"] = "3",
                ["MYSQL_URI"] = $"mysql://reader:{mysqlPassword}@127.0.0.1:{ServerAvailability.FreePort().ToString(CultureInfo.InvariantCulture)}/binance",
                ["MONGODB_URL"] = $"mongodb://dm:{mongoPassword}@127.0.0.1:{ServerAvailability.FreePort().ToString(CultureInfo.InvariantCulture)}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
                ["NATS_URL"] = $"nats://dm:{NatsPassword}@127.0.0.1:{nats.Port.ToString(CultureInfo.InvariantCulture)}",
                ["DATA_MANAGER_API_TOKENS"] = ApiAccessTests.Tokens,
            });
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"), Timeout = TimeSpan.FromSeconds(20) };
            await WaitForLivenessAsync(client, process);

            // At once: with MongoDB unreachable, the store's reads each wait for its server-selection timeout.
            var bodies = (await Task.WhenAll(ApiRoutesUnderTest.SamplePaths.Select(async path =>
            {
                using var response = await client.GetAsync(path, TestContext.Current.CancellationToken);
                return path + " " + await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            }))).ToList();

            using var write = await ApiAccessTests.PostJobAsync(client, ApiAccessTests.OpsToken);
            bodies.Add("POST " + await write.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            await Task.Delay(2_000, TestContext.Current.CancellationToken);
            using var readiness = await client.GetAsync("/health/readiness", TestContext.Current.CancellationToken);
            bodies.Add(await readiness.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            process.Signal("TERM");
            await process.WaitForExitAsync(TimeSpan.FromSeconds(30));

            var log = process.Output;
            Assert.Contains("starting as pod", log, StringComparison.Ordinal);
            Assert.Matches("authentication: .{0,2}user dm", log);
            foreach (var secret in new[] { mysqlPassword, mongoPassword, NatsPassword, ApiAccessTests.OpsToken, ApiAccessTests.CiToken })
            {
                Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
                Assert.All(bodies, body => Assert.DoesNotContain(secret, body, StringComparison.Ordinal));
            }
        }
        finally
        {
            LocalServers.DeleteDirectory(dataDir);
        }
    }

    [Fact]
    public async Task The_start_up_log_says_when_writes_are_open_in_embedded_mode()
    {
        var port = ServerAvailability.FreePort();
        var dataDir = ServerAvailability.TempDirectory("dm-open");
        try
        {
            await using var process = ServiceExecutable.Start(new Dictionary<string, string?>
            {
                ["DATA_DIR"] = dataDir,
                ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            });
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}") };
            await WaitForLivenessAsync(client, process);
            var line = Assert.Single(process.Output.Split('\n'), l => l.Contains("state-changing endpoints are open to any caller", StringComparison.Ordinal));
            Assert.Contains("\"@l\":\"Warning\"", line, StringComparison.Ordinal);
            Assert.Contains("DATA_MANAGER_API_TOKENS", line, StringComparison.Ordinal);
        }
        finally
        {
            LocalServers.DeleteDirectory(dataDir);
        }
    }

    [Fact]
    public void A_malformed_nats_url_is_reported_without_its_password()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["NATS_URL"] = $"http://dm:{NatsPassword}@nats:4222" }).Build();
        var error = Assert.Single(DataManager.Hosting.DataManagerSettings.Bind(configuration).Errors);
        Assert.Contains("NATS_URL", error, StringComparison.Ordinal);
        Assert.DoesNotContain(NatsPassword, error, StringComparison.Ordinal);
    }

    internal static void SkipWithoutNatsServer() =>
        ServerAvailability.Require("nats", LocalNats.IsInstalled ? null : "no nats-server binary (apt-get install nats-server): authentication needs a server started with --user/--pass");

    private static async Task<string> WaitForNatsCheckAsync(HttpClient client, string status)
    {
        var last = "";
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var response = await client.GetAsync("/health/readiness", TestContext.Current.CancellationToken);
            var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            var check = JsonSerializer.Deserialize<JsonElement>(body).GetProperty("checks").EnumerateArray().First(c => c.GetProperty("name").GetString() == "nats");
            last = check.ToString();
            if (check.GetProperty("status").GetString() == status)
            {
                return last;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.Fail($"nats check never {status}: {last}");
        return last;
    }

    internal static async Task WaitForLivenessAsync(HttpClient client, LocalProcess process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var response = await client.GetAsync("/health/liveness", TestContext.Current.CancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow >= deadline || process.HasExited)
            {
                Assert.Fail($"service not alive (exited: {process.HasExited}); output:\n{process.Output}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>One sample request per read route (the fuzz test and the secrets test share it).</summary>
internal static class ApiRoutesUnderTest
{
    public static readonly string[] SamplePaths =
    [
        "/health/liveness", "/health/readiness", "/health/leader", "/health/audit-status", "/metrics", "/api/tracker",
        "/api/audits?symbol=BTCUSDT&timeframe=1h&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&skip=0&limit=10",
        "/api/health-scores/BTCUSDT/1h", "/analytics/BTCUSDT/1h", "/analytics/BTCUSDT/1h/volatility", "/analytics/correlation/1h",
        "/backfill/jobs", "/backfill/jobs?state=pending", "/backfill/jobs/nope", "/openapi/v1.json",
    ];
}
