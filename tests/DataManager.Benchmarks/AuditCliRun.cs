using System.Globalization;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace DataManager.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/DataManager.Benchmarks -- audit-cli [--rows N] [--runs 3] [--variants "A=1,B=2|C=0"] [--dll path] [--no-image]</c>:
/// the <c>audit</c> CLI as a user runs it — a fresh <c>dotnet DataManager.Service.dll audit … --format json</c> process
/// per run — over one series of N <c>1m</c> candles in MariaDB (MYSQL_BENCH_URI, else an ephemeral local mariadbd),
/// data cached. Per variant (extra environment for the process; "as built" first, then the app published as the
/// image publishes it, ReadyToRun, unless --no-image): wall time, CPU of the process and of mariadbd, and peak
/// resident set (private and file-backed) of each run, taken alternately; then a process that audits one candle,
/// and the same engine warm in this process.
/// </summary>
public static class AuditCliRun
{
    private static readonly DateTime Start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static async Task<int> RunAsync(string[] args)
    {
        var rows = int.Parse(Arg(args, "--rows", "1000000"), CultureInfo.InvariantCulture);
        var runs = int.Parse(Arg(args, "--runs", "3"), CultureInfo.InvariantCulture);
        var variants = ("|" + Arg(args, "--variants", "")).Split('|').Select(v => v.Trim()).Distinct().ToList();
        await using var mariaDb = await BenchMariaDb.StartAsync("512M");
        var admin = mariaDb.AdminConnectionString;
        var database = await LocalMariaDb.CreateDatabaseAsync(admin);
        var m1 = Timeframe.Parse("1m");
        Console.WriteLine("loading: " + await AuditLoadRun.LoadSeriesAsync(database, m1, "BTCUSDT", Start, rows, gapEvery: rows / 50));
        var end = Start.AddMinutes(rows);
        var builder = new MySqlConnectionStringBuilder(database);
        var dll = Arg(args, "--dll", ServiceDll()); // e.g. a ReadyToRun publish
        string[] AuditArguments(string path, DateTime from) => [path, "audit", "--symbols", "BTCUSDT", "--timeframes", "1m",
            "--from", from.ToString("O", CultureInfo.InvariantCulture), "--to", end.ToString("O", CultureInfo.InvariantCulture), "--format", "json"];

        Dictionary<string, string?> ProcessEnvironment(string variant)
        {
            var environment = new Dictionary<string, string?>
            {
                ["MYSQL_HOST"] = builder.Server, ["MYSQL_PORT"] = builder.Port.ToString(CultureInfo.InvariantCulture), ["MYSQL_USER"] = builder.UserID,
                ["MYSQL_PASSWORD"] = builder.Password, ["MYSQL_DATABASE"] = builder.Database, ["LOG_LEVEL"] = "warning",
            };
            foreach (var setting in variant.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                environment[setting.Split('=')[0]] = setting.Split('=')[1];
            }

            return environment;
        }

        // The image's build: ReadyToRun for this machine's architecture (Dockerfile, build stage), published once.
        var builds = new List<(string Name, string Dll)> { ("as built", dll) };
        if (!args.Contains("--no-image"))
        {
            builds.Add(("image build (ReadyToRun)", await PublishAsImageAsync()));
        }

        // Every (build, variant) pair once per round, round after round: a machine whose load drifts weighs on all alike.
        var cases = builds.SelectMany(b => variants.Select(v => (Name: v.Length == 0 ? b.Name : $"{b.Name}, {v}", b.Dll, Environment: ProcessEnvironment(v)))).ToList();
        var results = cases.ToDictionary(c => c.Name, _ => new List<(double Seconds, ProcessSample Sample, double? ServerCpu)>());
        foreach (var c in cases)
        {
            await ProcessSample.RunAsync("dotnet", AuditArguments(c.Dll, Start), c.Environment); // the data cached, the files in the page cache
        }

        for (var i = 0; i < runs; i++)
        {
            foreach (var c in cases)
            {
                var serverBefore = mariaDb.ServerCpu();
                var run = await ProcessSample.RunAsync("dotnet", AuditArguments(c.Dll, Start), c.Environment);
                var serverCpu = mariaDb.ServerCpu() - serverBefore;
                if (run.ExitCode != 0 || !run.Output.Contains("\"expectedCandles\"", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"audit exited {run.ExitCode}: {run.Output[..Math.Min(2000, run.Output.Length)]}");
                }

                results[c.Name].Add((run.Seconds, run.Sample, serverCpu));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{c.Name}: {run.Seconds:F2} s wall, {run.Sample.CpuSeconds:F2} s CPU, mariadbd {serverCpu?.ToString("F2", CultureInfo.InvariantCulture) ?? "?"} s CPU, {run.Sample.Memory}, load average {LoadAverage()}"));
            }
        }

        var table = new List<string>();
        foreach (var c in cases)
        {
            var nothing = await ProcessSample.RunAsync("dotnet", AuditArguments(c.Dll, end.AddMinutes(-1)), c.Environment);
            var r = results[c.Name];
            table.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {c.Name} | {r.Min(x => x.Seconds):F2} s ({string.Join(", ", r.Select(x => x.Seconds.ToString("F2", CultureInfo.InvariantCulture)))}) | {r.Min(x => x.Sample.CpuSeconds):F2}–{r.Max(x => x.Sample.CpuSeconds):F2} s | {r.Min(x => x.ServerCpu ?? double.NaN):F2}–{r.Max(x => x.ServerCpu ?? double.NaN):F2} s | {r.Max(x => x.Sample.PeakRssMb):F0} MB | {r.Max(x => x.Sample.PeakPrivateMb):F0} MB | {r.Max(x => x.Sample.PeakFileMb):F0} MB | {nothing.Seconds:F2} s, {nothing.Sample.CpuSeconds:F2} s CPU |"));
        }

        var candles = new SqlCandleStore(new MySqlCandleDialect(database), NullLogger<SqlCandleStore>.Instance);
        var auditor = new SeriesAuditor(candles, Options.Create(new AuditOptions()));
        var warm = await AuditLoadRun.TimeAsync(5, () => auditor.AuditAsync(new SeriesKey("BTCUSDT", m1), Start, end, end, CancellationToken.None));

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| fresh process, {rows:N0} 1m candles | best of {runs} (each run) | CPU | mariadbd CPU | peak RSS | private (anonymous + JIT code shmem) | file-backed | a process auditing 1 candle |"));
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        table.ForEach(Console.WriteLine);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm engine in this process: {warm.Median:F3} s (median of {warm.Runs}); load average {LoadAverage()}"));
        Console.WriteLine("target: the fresh process, best of the runs, <= 1.2 s on a quiet machine");
        return 0;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    /// <summary>Publishes the service as the Dockerfile's build stage does (ReadyToRun, this architecture) into a temporary directory.</summary>
    private static async Task<string> PublishAsImageAsync()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "DataManager.sln")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar)) ?? throw new DirectoryNotFoundException("DataManager.sln above " + AppContext.BaseDirectory);
        }

        var output = Path.Combine(Path.GetTempPath(), "dm-audit-cli-r2r");
        var arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64";
        Console.WriteLine($"publishing as the image does (ReadyToRun, {arch}) to {output} ...");
        var publish = await ProcessSample.RunAsync("dotnet",
            ["publish", Path.Combine(root, "src", "DataManager.Service", "DataManager.Service.csproj"), "-c", "Release", "-a", arch, "--self-contained", "false",
             "-p:PublishReadyToRun=true", "-p:UseAppHost=false", "-o", output], new Dictionary<string, string?>());
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException("dotnet publish failed: " + publish.Output);
        }

        return Path.Combine(output, "DataManager.Service.dll");
    }

    internal static string Arg(string[] args, string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

    internal static string ServiceDll()
    {
        var here = Path.Combine(AppContext.BaseDirectory, "DataManager.Service.dll");
        return File.Exists(Path.Combine(AppContext.BaseDirectory, "DataManager.Service.runtimeconfig.json")) ? here
            : throw new FileNotFoundException("DataManager.Service.runtimeconfig.json next to the benchmarks: build them with dotnet build -c Release");
    }
}
