using System.Globalization;
using DataManager.Testing;
using DataManager.Tests.Deployment;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Candles;

/// <summary>
/// A replica's first start in embedded mode seeds the demo candle database (~10,000 rows). The seed's garbage must not
/// stay in the heap: it used to keep ~35 MB of private memory resident, the start-up high-water mark that the
/// feed's load then added to.
/// </summary>
[Trait("Category", "Server")]
public sealed class DemoSeedMemoryTests : IDisposable
{
    /// <summary>Peak anonymous RSS during and after the seed: 42–52 MB before the fix, 25–28 MB after (2 cores, the image's settings).</summary>
    private const double AnonymousPeakLimitMb = 34;

    private readonly string _dataDir = ServerAvailability.TempDirectory("dm-seed-memory");

    [Fact]
    public async Task A_first_start_seeds_the_demo_without_keeping_the_seed_resident()
    {
        // The image's runtime settings (GC mode and sizes, malloc arenas), as a pod runs them.
        var settings = DockerfileModel.Load(RepositoryRoot.Combine("Dockerfile"))["runtime"].Environment()
            .Where(e => e.Key.StartsWith("DOTNET_", StringComparison.Ordinal) || e.Key.StartsWith("MALLOC_", StringComparison.Ordinal))
            .ToDictionary(e => e.Key, e => (string?)e.Value);
        settings["DATA_DIR"] = _dataDir;
        settings["API_PORT"] = ServerAvailability.FreePort().ToString(CultureInfo.InvariantCulture);
        settings["ENABLE_AUDITOR"] = "false";
        settings["ENABLE_LEADER_ELECTION"] = "false";
        settings["LOG_LEVEL"] = "information";
        await using var process = ServiceExecutable.Start(settings);

        double peakMb = 0;
        DateTime? seededAt = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        // Sampled from the start: the seed's garbage is what sets the peak, and it comes and goes within a second.
        while (seededAt is null || DateTime.UtcNow - seededAt < TimeSpan.FromSeconds(2))
        {
            Assert.False(process.HasExited, "the service exited:\n" + process.Output);
            Assert.True(DateTime.UtcNow < deadline, "the demo was never seeded:\n" + process.Output);
            if (AnonymousMb(process.Id) is { } anonymous)
            {
                peakMb = Math.Max(peakMb, anonymous);
            }

            if (seededAt is null && process.Output.Contains("Seeded the embedded demo candle database", StringComparison.Ordinal))
            {
                seededAt = DateTime.UtcNow;
            }

            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        Assert.True(peakMb < AnonymousPeakLimitMb, $"peak anonymous RSS {peakMb:F1} MB during the first start's seed (limit {AnonymousPeakLimitMb} MB)");
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_dataDir);

    private static double? AnonymousMb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
