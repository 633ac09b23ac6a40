using DataManager.Testing;
using System.Globalization;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Health;

/// <summary>The built executable, as operators run it.</summary>
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
        Assert.Contains(name + ": expected", line, StringComparison.Ordinal);
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
            var seeded = 0;
            for (var attempt = 0; attempt < 100 && seeded == 0; attempt++)
            {
                seeded = processes.Sum(p => Count(p.Output, "Seeded the embedded demo candle database"));
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }

            Assert.Equal(1, seeded);
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

    private static int Count(string text, string value) => text.Split(value).Length - 1;

    public void Dispose()
    {
        LocalServers.DeleteDirectory(_dataDir);
    }
}
