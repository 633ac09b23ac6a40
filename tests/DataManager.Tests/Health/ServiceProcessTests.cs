using DataManager.Testing;
using System.Globalization;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Health;

/// <summary>The built executable, as operators run it.</summary>
[Trait("Category", "Server")]
public sealed class ServiceProcessTests : IDisposable
{
    private readonly string _dataDir = ServerAvailability.TempDirectory("dm-process");

    [Theory]
    [InlineData("ENABLE_AUDITOR", "maybe")]
    [InlineData("AUDIT_INTERVAL", "-5")]
    [InlineData("SUPPORTED_TIMEFRAMES", "5m,2w")]
    [InlineData("MYSQL_URI", "mysql://only-a-host")]
    public async Task A_bad_setting_stops_the_process_with_exit_code_2_naming_the_variable(string name, string value)
    {
        await using var process = ServiceExecutable.Start(new Dictionary<string, string?> { [name] = value, ["DATA_DIR"] = _dataDir });
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        var line = Assert.Single(process.Output.Split('\n'), l => l.Contains("Invalid configuration", StringComparison.Ordinal));
        // One JSON event, like every other line outside Development, with the setting named in its message.
        var message = System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("@m").GetString();
        Assert.StartsWith($"Invalid configuration: {name}: expected", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Three_replicas_started_at_once_on_one_data_dir_all_become_ready()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => ServerAvailability.FreePort()).ToArray();
        var processes = ports.Select((port, i) => ServiceExecutable.Start(new Dictionary<string, string?>
        {
            ["DATA_DIR"] = _dataDir,
            ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["POD_NAME"] = $"replica-{i}",
        })).ToArray();
        try
        {
            foreach (var (process, port) in processes.Zip(ports))
            {
                using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
                using var ready = await ServiceExecutable.WaitForReadinessAsync(client, process, TimeSpan.FromSeconds(60));
            }

            // Seeding is committed with its marker in one transaction; wait for it, then check one seed happened.
            int Seeded() => processes.Sum(p => Count(p.Output, "Seeded the embedded demo candle database"));
            await Eventually.UntilAsync("a replica logs that it seeded the demo database", () => Seeded() > 0, TimeSpan.FromMinutes(1), cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(1, Seeded());
            // Each says which store it uses and where (Serilog quotes string values in the rendered message).
            Assert.All(processes, p => Assert.Matches("\"@m\":\"Store: .{0,2}embedded SQLite.{0,4} \\(.{0,2}SQLite at .*datamanager\\.db", p.Output));
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_DATA_DIR_that_cannot_be_created_stops_the_process_with_exit_code_2_naming_it()
    {
        // A path below a regular file cannot be created, even by root.
        var file = Path.Combine(_dataDir, "a-file");
        await File.WriteAllTextAsync(file, "", TestContext.Current.CancellationToken);
        await using var process = ServiceExecutable.Start(new Dictionary<string, string?> { ["DATA_DIR"] = Path.Combine(file, "data") });
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        var line = Assert.Single(process.Output.Split('\n'), l => l.Contains("Invalid configuration", StringComparison.Ordinal));
        Assert.Contains("DATA_DIR: " + Path.Combine(file, "data"), line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_taken_port_fails_the_start_with_one_line_and_leaves_no_lease()
    {
        // The store is ready at once, so an elector that did not wait for the port would take the lease first.
        var store = new DataManager.Testing.SqliteTestStore(Path.Combine(_dataDir, "datamanager.db"));
        await store.InitializeAsync(TestContext.Current.CancellationToken);
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Any, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        await using var process = ServiceExecutable.Start(new Dictionary<string, string?>
        {
            ["DATA_DIR"] = _dataDir,
            ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["ENABLE_LEADER_ELECTION"] = "true",
            ["POD_NAME"] = "replica-port-taken",
        });
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, exitCode);
        var problems = process.Output.Split('\n').Where(l => l.Contains("\"@l\":\"Error\"", StringComparison.Ordinal) || l.Contains("\"@l\":\"Fatal\"", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(problems);
        Assert.Contains("address already in use", line, StringComparison.Ordinal);
        Assert.DoesNotContain("\"@x\"", line, StringComparison.Ordinal);

        var lease = await store.ReadAsync("data-manager", TestContext.Current.CancellationToken);
        Assert.True(lease is null || lease.ExpiresAt <= DateTimeOffset.UtcNow, $"the failed replica left the lease held: {lease}");
    }

    /// <summary>
    /// The store unreachable (MongoDB at a closed port): every store-reading endpoint answers 503 problem details,
    /// logged once. The driver would wait out its 30 s server selection, as long as the client's timeout: an answer
    /// at all means the request budget ended the wait. How long the budget is, is a figure, not an assertion.
    /// </summary>
    [Fact]
    public async Task An_unreachable_store_answers_503_problem_details_without_waiting_for_the_driver_and_logs_the_outage_once()
    {
        var port = ServerAvailability.FreePort();
        await using var process = ServiceExecutable.Start(new Dictionary<string, string?>
        {
            ["DATA_DIR"] = _dataDir,
            ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["MONGODB_URL"] = $"mongodb://127.0.0.1:{ServerAvailability.FreePort()}",
        });
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        var ct = TestContext.Current.CancellationToken;
        await ServiceExecutable.WaitForLivenessAsync(client, process);

        string[] paths = ["/health/audit-status", "/api/audits", "/api/health-scores/BTCUSDT/1h", "/analytics/BTCUSDT/1h", "/backfill/jobs"];
        (await client.GetAsync(paths[0], ct)).Dispose(); // the first request pays for JIT compilation
        foreach (var path in paths.Concat(paths))
        {
            using var response = await client.GetAsync(path, ct);
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement;
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
            Assert.Equal("Store unavailable", problem.GetProperty("title").GetString());
        }

        Assert.Equal(1, Count(process.Output, "Store unavailable: the API answers 503"));
        // The store initialiser's own retries may name the driver's timeout; no request may.
        Assert.DoesNotContain(process.Output.Split('\n'), l => l.Contains("TimeoutException", StringComparison.Ordinal) && !l.Contains("not ready, retrying", StringComparison.Ordinal));
        Assert.DoesNotContain("\"@l\":\"Error\"", process.Output, StringComparison.Ordinal);
    }

    private static int Count(string text, string value) => text.Split(value).Length - 1;

    public void Dispose()
    {
        LocalServers.DeleteDirectory(_dataDir);
    }
}
