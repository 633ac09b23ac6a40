using System.Net;
using System.Net.Http.Json;
using DataManager.Health;
using DataManager.Leadership;
using DataManager.Storage;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Health;

[Trait("Category", "Server")]
public sealed class ReadinessTests(MariaDbServer mariaDb, NatsServer nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(HttpStatusCode Status, ReadinessResponse Body)> ReadinessAsync(ServiceHost host)
    {
        using var response = await host.Client.GetAsync("/health/readiness", Ct);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<ReadinessResponse>(StoreJson.Options, Ct);
        return (response.StatusCode, body!);
    }

    private static ReadinessCheck Check(ReadinessResponse body, string name) => body.Checks.Single(c => c.Name == name);

    [Fact]
    public async Task Embedded_mode_is_ready_and_lists_every_dependency()
    {
        await using var host = await ServiceHost.StartAsync();
        var (status, body) = await ReadinessAsync(host);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", body.Status);
        Assert.Equal(["store", "mysql", "nats"], body.Checks.Select(c => c.Name).ToArray());
        Assert.True(Check(body, "store").Required);
        Assert.Contains("datamanager.db", Check(body, "store").Description, StringComparison.Ordinal);
        Assert.Contains("NATS_URL is not set", Check(body, "nats").Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Liveness_answers_without_touching_a_database()
    {
        // The store points at a server that does not exist: liveness must not care.
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["MONGODB_URL"] = $"mongodb://127.0.0.1:{ServerAvailability.FreePort()}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
        }, waitForStore: false);
        using var response = await host.Client.GetAsync("/health/liveness", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<LivenessResponse>(StoreJson.Options, Ct);
        Assert.Equal("alive", body!.Status);
    }

    [Fact]
    public async Task An_unreachable_store_makes_the_replica_unready_with_503()
    {
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["MONGODB_URL"] = $"mongodb://127.0.0.1:{ServerAvailability.FreePort()}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
        }, waitForStore: false);
        var (status, body) = await ReadinessAsync(host);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("Unhealthy", Check(body, "store").Status);
        Assert.Equal("Healthy", Check(body, "mysql").Status);
    }

    [Fact]
    public async Task An_unreachable_store_is_one_line_in_readiness_and_the_leaders_last_error()
    {
        var port = ServerAvailability.FreePort();
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["MONGODB_URL"] = $"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
            ["LEADER_ELECTION_HEARTBEAT_INTERVAL"] = "0.1",
            ["LEADER_ELECTION_RENEW_DEADLINE"] = "0.5",
            ["LEADER_ELECTION_TIMEOUT"] = "1",
        }, waitForStore: false);
        var expected = $"MongoDB 127.0.0.1:{port} did not answer within 0.3 s (server selection timeout: Connection refused)";
        LeaderStatusResponse? leader = null;
        await Eventually.UntilAsync("/health/leader names the store's error", async token =>
        {
            leader = await host.Client.GetFromJsonAsync<LeaderStatusResponse>("/health/leader", StoreJson.Options, token);
            return leader!.LastError == $"store not ready: {expected}";
        }, TimeSpan.FromSeconds(30), cancellationToken: Ct);
        Assert.False(leader!.IsLeader);

        var (status, body) = await ReadinessAsync(host);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.EndsWith($"': initialising ({expected})", Check(body, "store").Description, StringComparison.Ordinal);
        Assert.StartsWith("MongoDB database '", Check(body, "store").Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mysql_and_nats_down_report_degraded_with_200()
    {
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["MYSQL_URI"] = $"mysql://root:x@127.0.0.1:{ServerAvailability.FreePort()}/market",
            ["NATS_URL"] = $"nats://127.0.0.1:{ServerAvailability.FreePort()}",
        });
        var (status, body) = await ReadinessAsync(host);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Degraded", body.Status);
        Assert.Equal("Healthy", Check(body, "store").Status);
        Assert.Equal("Degraded", Check(body, "mysql").Status);
        Assert.Equal("Degraded", Check(body, "nats").Status);
        Assert.NotNull(Check(body, "mysql").Error);
    }

    /// <summary>
    /// A hung MySQL (SIGSTOP: the kernel accepts connections, nobody answers) is Degraded with 200. MySQL stays
    /// stopped until every probe has been answered, so each answer can only have come from the readiness budget
    /// ending the wait (without one the request would hang to the client's timeout). How long the budget is, is a
    /// figure, not a test: a loaded machine stretches every timer.
    /// </summary>
    [Fact]
    public async Task A_hung_mysql_is_degraded_within_the_readiness_budget()
    {
        mariaDb.Require();
        await using var hung = await DataManager.Testing.LocalMariaDb.StartAsync("32M");
        var database = await DataManager.Testing.LocalMariaDb.CreateDatabaseAsync(hung.AdminConnectionString);
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?> { ["MYSQL_URI"] = MariaDbServer.ToUri(database) });
        Assert.Equal("Healthy", Check((await ReadinessAsync(host)).Body, "mysql").Status);

        hung.Signal("STOP");
        try
        {
            for (var probe = 0; probe < 3; probe++)
            {
                var (status, body) = await ReadinessAsync(host);
                Assert.Equal(HttpStatusCode.OK, status);
                Assert.Equal("Degraded", body.Status);
                Assert.Equal("Degraded", Check(body, "mysql").Status);
                Assert.Contains("no answer within", Check(body, "mysql").Description, StringComparison.Ordinal);
            }
        }
        finally
        {
            hung.Signal("CONT");
        }
    }

    [Fact]
    public async Task Real_mysql_and_nats_report_healthy()
    {
        mariaDb.Require();
        nats.Require();
        var database = await mariaDb.CreateDatabaseAsync();
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["MYSQL_URI"] = MariaDbServer.ToUri(database),
            ["NATS_URL"] = nats.Url,
        });
        // The NATS connection opens in the background after start.
        var (status, body) = await ReadinessAsync(host);
        await Eventually.UntilAsync("readiness reports NATS healthy", async _ =>
        {
            (status, body) = await ReadinessAsync(host);
            return Check(body, "nats").Status == "Healthy";
        },
            TimeSpan.FromMinutes(2), seen: () => $"nats: {Check(body, "nats")}", cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", Check(body, "mysql").Status);
        Assert.Equal("Healthy", Check(body, "nats").Status);
        Assert.StartsWith("MySQL 127.0.0.1", Check(body, "mysql").Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_expose_process_and_http_metrics_of_this_host_only()
    {
        await using var host = await ServiceHost.StartAsync();
        (await host.Client.GetAsync("/health/liveness", Ct)).Dispose();
        (await host.Client.GetAsync("/health/liveness", Ct)).Dispose();
        var metrics = await host.Client.GetStringAsync("/metrics", Ct);
        Assert.True(Exposition.Value(metrics, "process_cpu_seconds_total") > 0);
        Assert.True(Exposition.Value(metrics, "process_working_set_bytes") > 0);
        Assert.True(Exposition.Value(metrics, "dotnet_total_memory_bytes") > 0); // the dashboard's memory panel
        // Each host has its own registry: its own requests only, not those of every host the test process started.
        Assert.Equal(2, LivenessProbes(metrics));

        await using var other = await ServiceHost.StartAsync();
        (await other.Client.GetAsync("/health/liveness", Ct)).Dispose();
        Assert.Equal(1, LivenessProbes(await other.Client.GetStringAsync("/metrics", Ct)));
        Assert.Equal(2, LivenessProbes(await host.Client.GetStringAsync("/metrics", Ct)));
    }

    private static double LivenessProbes(string metrics)
    {
        var line = metrics.Split('\n').Single(l => l.StartsWith("http_request_duration_seconds_count{code=\"200\",method=\"GET\"", StringComparison.Ordinal)
            && l.Contains("endpoint=\"/health/liveness\"", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
