using System.Diagnostics;
using System.Globalization;

namespace DataManager.Benchmarks;

/// <summary>
/// What a process cost, sampled from /proc while it runs: user + system CPU, and the peaks of its resident set
/// split into private (anonymous: heaps, JIT'd code, buffers; plus the shared-memory view of JIT'd code that W^X
/// maps twice, RssShmem, which is the process's own too) and file-backed (mapped runtime, framework and app
/// assemblies, shared through the page cache).
/// </summary>
public sealed class ProcessSample
{
    /// <summary>The runtime settings of the container image (Dockerfile ENV), so a load run measures what a pod runs.</summary>
    public static IReadOnlyDictionary<string, string?> ImageRuntime { get; } = new Dictionary<string, string?>
    {
        ["DOTNET_gcServer"] = "0",
        ["DOTNET_gcConcurrent"] = "0",
        ["DOTNET_GCConserveMemory"] = "5",
        ["DOTNET_GCgen0size"] = "1000000",
        ["DOTNET_TieredPGO"] = "0",
        ["MALLOC_ARENA_MAX"] = "2",
    };

    public double CpuSeconds { get; private set; }

    public double PeakRssMb { get; private set; }

    public double PeakAnonymousMb { get; private set; }

    public double PeakFileMb { get; private set; }

    /// <summary>RssShmem: with W^X (the runtime's default) JIT'd code lives in a memfd mapped twice; private to the process.</summary>
    public double PeakShmemMb { get; private set; }

    /// <summary>Private memory: anonymous plus shmem.</summary>
    public double PeakPrivateMb { get; private set; }

    /// <summary>
    /// With <see cref="WithMemoryMap"/>: resident memory by what holds it (<see cref="MemoryMap"/>), read when the
    /// private peak was last reached (within 1 MB).
    /// </summary>
    public IReadOnlyDictionary<string, double>? MapAtPeak { get; private set; }

    private double _mappedAtPrivateMb;

    /// <summary>Also keeps <see cref="MapAtPeak"/>.</summary>
    public ProcessSample WithMemoryMap()
    {
        MapAtPeak = new Dictionary<string, double>();
        return this;
    }

    /// <summary>Reads /proc once; false when the process is gone.</summary>
    public bool Take(int pid)
    {
        try
        {
            var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var cpu = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
            double rss = 0, anonymous = 0, file = 0, shmem = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    rss = Kilobytes(line) / 1024.0;
                }
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    anonymous = Kilobytes(line) / 1024.0;
                }
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                {
                    file = Kilobytes(line) / 1024.0;
                }
                else if (line.StartsWith("RssShmem:", StringComparison.Ordinal))
                {
                    shmem = Kilobytes(line) / 1024.0;
                }
            }

            CpuSeconds = Math.Max(CpuSeconds, cpu);
            PeakRssMb = Math.Max(PeakRssMb, rss);
            PeakAnonymousMb = Math.Max(PeakAnonymousMb, anonymous);
            PeakFileMb = Math.Max(PeakFileMb, file);
            PeakShmemMb = Math.Max(PeakShmemMb, shmem);
            if (MapAtPeak is not null && anonymous + shmem >= _mappedAtPrivateMb + 1)
            {
                // Re-read only when the private peak grew by 1 MB or more: a handful of reads in a run.
                _mappedAtPrivateMb = anonymous + shmem;
                MapAtPeak = MemoryMap.Read(pid);
            }

            PeakPrivateMb = Math.Max(PeakPrivateMb, anonymous + shmem);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or FormatException)
        {
            return false;
        }
    }

    /// <summary>Samples every few milliseconds until <paramref name="until"/> completes.</summary>
    public async Task WatchAsync(int pid, Task until)
    {
        while (!until.IsCompleted && Take(pid))
        {
            await Task.WhenAny(until, Task.Delay(5));
        }
    }

    public string Memory => string.Create(CultureInfo.InvariantCulture, $"{PeakRssMb:F0} MB (private {PeakPrivateMb:F0} MB: anonymous {PeakAnonymousMb:F0}, JIT code shmem {PeakShmemMb:F0}; file-backed {PeakFileMb:F0} MB)");

    private static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    /// <summary>Runs a command to its end, sampling it; returns the wall time, exit code and output.</summary>
    public static async Task<(double Seconds, int ExitCode, string Output, ProcessSample Sample)> RunAsync(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var sample = new ProcessSample();
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + fileName);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        var exited = process.WaitForExitAsync();
        await sample.WatchAsync(process.Id, exited);
        await exited;
        var seconds = watch.Elapsed.TotalSeconds;
        return (seconds, process.ExitCode, await output + await error, sample);
    }
}
