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
/// <c>dotnet run -c Release --project tests/DataManager.Benchmarks -- audit-cli [--rows N] [--runs 3] [--variants "A=1,B=2|C=0"] [--dll path]</c>:
/// the <c>audit</c> CLI as a user runs it — a fresh <c>dotnet DataManager.Service.dll audit … --format json</c> process
/// per run — over one series of N <c>1m</c> candles in MariaDB (MYSQL_BENCH_URI, else an ephemeral local mariadbd),
/// data cached. Per variant (extra environment for the process; "as built" first): wall time, CPU, and peak
/// resident set (private and file-backed) of each run; then a process that audits one candle, and the same engine
/// warm in this process.
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
        string[] Audit(DateTime from) => [dll, "audit", "--symbols", "BTCUSDT", "--timeframes", "1m",
            "--from", from.ToString("O", CultureInfo.InvariantCulture), "--to", end.ToString("O", CultureInfo.InvariantCulture), "--format", "json"];

        var table = new List<string>();
        foreach (var variant in variants)
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

            var name = variant.Length == 0 ? "as built" : variant;
            await ProcessSample.RunAsync("dotnet", Audit(Start), environment); // the data cached, the files in the page cache
            var results = new List<(double Seconds, ProcessSample Sample)>();
            for (var i = 0; i < runs; i++)
            {
                var run = await ProcessSample.RunAsync("dotnet", Audit(Start), environment);
                if (run.ExitCode != 0 || !run.Output.Contains("\"expectedCandles\"", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"audit exited {run.ExitCode}: {run.Output[..Math.Min(2000, run.Output.Length)]}");
                }

                results.Add((run.Seconds, run.Sample));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {run.Seconds:F2} s wall, {run.Sample.CpuSeconds:F2} s CPU, {run.Sample.Memory}"));
            }

            var nothing = await ProcessSample.RunAsync("dotnet", Audit(end.AddMinutes(-1)), environment);
            table.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {results.Min(r => r.Seconds):F2} s ({string.Join(", ", results.Select(r => r.Seconds.ToString("F2", CultureInfo.InvariantCulture)))}) | {results.Min(r => r.Sample.CpuSeconds):F2}–{results.Max(r => r.Sample.CpuSeconds):F2} s | {results.Max(r => r.Sample.PeakRssMb):F0} MB | {results.Max(r => r.Sample.PeakAnonymousMb):F0} MB | {results.Max(r => r.Sample.PeakFileMb):F0} MB | {nothing.Seconds:F2} s |"));
        }

        var candles = new SqlCandleStore(new MySqlCandleDialect(database), NullLogger<SqlCandleStore>.Instance);
        var auditor = new SeriesAuditor(candles, Options.Create(new AuditOptions()));
        var warm = await AuditLoadRun.TimeAsync(5, () => auditor.AuditAsync(new SeriesKey("BTCUSDT", m1), Start, end, end, CancellationToken.None));

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| fresh process, {rows:N0} 1m candles | best of {runs} (each run) | CPU | peak RSS | private | file-backed | a process auditing 1 candle |"));
        Console.WriteLine("|---|---|---|---|---|---|---|");
        table.ForEach(Console.WriteLine);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm engine in this process: {warm.Median:F3} s (median of {warm.Runs})"));
        return 0;
    }

    internal static string Arg(string[] args, string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

    internal static string ServiceDll()
    {
        var here = Path.Combine(AppContext.BaseDirectory, "DataManager.Service.dll");
        return File.Exists(Path.Combine(AppContext.BaseDirectory, "DataManager.Service.runtimeconfig.json")) ? here
            : throw new FileNotFoundException("DataManager.Service.runtimeconfig.json next to the benchmarks: build them with dotnet build -c Release");
    }
}
