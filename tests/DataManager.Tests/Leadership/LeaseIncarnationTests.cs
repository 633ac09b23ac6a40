using System.Globalization;
using System.Net.Http.Json;
using DataManager.Leadership;
using DataManager.Storage;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Leadership;

/// <summary>
/// A real service process restarted under the same POD_NAME never inherits the term of the process before it:
/// after kill -9 it waits for the old lease to expire and then leads with term + 1; after SIGTERM (the lease is
/// released) it takes over at once, also with term + 1.
/// </summary>
[Trait("Category", "Server")]
public sealed class LeaseIncarnationTests(MongoServer mongo) : IAsyncDisposable
{
    // A lease long enough that the restarted process is up well before the killed one's lease expires.
    private const double Heartbeat = 0.3;
    private const double RenewDeadline = 6;
    private const double Timeout = 10;
    private const string Pod = "pod-0";

    private readonly string _directory = ServerAvailability.TempDirectory("dm-incarnation");
    private readonly List<LocalProcess> _processes = [];
    private string? _mongoUrl;
    private string? _mongoDatabase;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("mongodb")]
    public async Task A_process_restarted_under_the_same_pod_name_leads_only_with_a_higher_term(string store)
    {
        if (store == "mongodb")
        {
            mongo.Require();
            _mongoUrl = mongo.ConnectionString;
            _mongoDatabase = "dm_incarnation_" + Guid.NewGuid().ToString("N")[..8];
        }

        var (first, firstPort) = await StartAsync();
        var before = await WaitLeaderAsync(firstPort);
        Assert.Equal(Pod, before.PodId);
        Assert.Equal(Pod, before.Lease!.Holder);
        Assert.Equal(before.Incarnation, before.Lease.Incarnation);

        first.Signal("KILL");
        await first.WaitForExitAsync(TimeSpan.FromSeconds(10));

        var (second, secondPort) = await StartAsync();
        var waiting = await StatusAsync(secondPort);
        Assert.NotEqual(before.Incarnation, waiting.Incarnation);
        if (waiting.Lease is { } lease && lease.Incarnation == before.Incarnation)
        {
            // The killed process's lease is still on record: the new process must not claim it.
            Assert.False(waiting.IsLeader, "the new process leads under the killed process's lease");
            Assert.Equal(before.Lease.Term, lease.Term);
        }

        var after = await WaitLeaderAsync(secondPort);
        Assert.Equal(Pod, after.PodId);
        Assert.Equal(Pod, after.Lease!.Holder);
        Assert.Equal(waiting.Incarnation, after.Lease.Incarnation);
        Assert.Equal(before.Lease.Term + 1, after.Lease.Term);

        // A graceful restart: SIGTERM releases the lease, so the next process takes it over before the old
        // lease would have expired, and still with a higher term.
        var held = await StatusAsync(secondPort);
        second.Signal("TERM");
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var (_, thirdPort) = await StartAsync();
        var third = await WaitLeaderAsync(thirdPort);
        Assert.Equal(after.Lease.Term + 1, third.Lease!.Term);
        Assert.True(third.Lease.AcquiredAt < held.Lease!.ExpiresAt, $"acquired at {third.Lease.AcquiredAt:O}, after the old lease's expiry {held.Lease.ExpiresAt:O}: the release did not take effect");
    }

    private async Task<(LocalProcess Process, int Port)> StartAsync()
    {
        var port = ServerAvailability.FreePort();
        var process = ServiceExecutable.Start(new Dictionary<string, string?>
        {
            ["DATA_DIR"] = _directory,
            ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["POD_NAME"] = Pod,
            ["LEADER_ELECTION_HEARTBEAT_INTERVAL"] = Heartbeat.ToString(CultureInfo.InvariantCulture),
            ["LEADER_ELECTION_RENEW_DEADLINE"] = RenewDeadline.ToString(CultureInfo.InvariantCulture),
            ["LEADER_ELECTION_TIMEOUT"] = Timeout.ToString(CultureInfo.InvariantCulture),
            ["ENABLE_AUDITOR"] = "false",
            ["ENABLE_ANALYTICS"] = "false",
            ["LOG_LEVEL"] = "info",
            ["MONGODB_URL"] = _mongoUrl,
            ["MONGODB_DATABASE"] = _mongoDatabase,
        });
        _processes.Add(process);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        using var ready = await ServiceExecutable.WaitForReadinessAsync(client, process, TimeSpan.FromSeconds(60));
        return (process, port);
    }

    private static async Task<LeaderStatusResponse> StatusAsync(int port)
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        return (await client.GetFromJsonAsync<LeaderStatusResponse>("/health/leader", StoreJson.Options, Ct))!;
    }

    // The killed process's lease lasts LEADER_ELECTION_TIMEOUT and the new one takes it at its next heartbeat after that.
    private static Task<LeaderStatusResponse> WaitLeaderAsync(int port) =>
        Eventually.UntilValueAsync($"the process on port {port} leads", async token => await StatusAsync(port) is { IsLeader: true } status ? status : null,
            TimeSpan.FromMinutes(2), cancellationToken: Ct);

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        CandleDatabases.RemoveDirectory(_directory);
    }
}
