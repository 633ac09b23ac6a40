using System.Diagnostics;
using System.Globalization;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Incidents;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Prometheus;

namespace DataManager.Benchmarks;

/// <summary>
/// <c>incident-load [--cycles 50]</c>: the incident tracker's cost per audit cycle of 40 series (8 pairs × 5
/// timeframes) on the embedded SQLite store, in the steady state: 6 series carry open incidents (gaps and
/// duplicates) that every cycle sees again; every 10th cycle one gap is repaired and another opens.
/// </summary>
public static class IncidentLoadRun
{
    private static readonly string[] Pairs = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "ADAUSDT", "SOLUSDT", "LINKUSDT", "LTCUSDT", "XRPUSDT"];
    private static readonly string[] Timeframes = ["5m", "15m", "30m", "1h", "1d"];

    public static async Task<int> RunAsync(string[] args)
    {
        var cycles = int.Parse(args.SkipWhile(a => a != "--cycles").Skip(1).FirstOrDefault() ?? "50", CultureInfo.InvariantCulture);
        var work = LocalServers.TempDirectory("dm-incident-load");
        try
        {
            var path = Path.Combine(work, "store.db");
            var store = new SqliteTestStore(path);
            await store.InitializeAsync(CancellationToken.None);
            var incidents = store.Incidents;
            var start = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
            var tracker = new IncidentTracker(store, incidents, store, Options.Create(new IncidentOptions()), new IncidentMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())),
                TimeProvider.System, NullLogger<IncidentTracker>.Instance);
            var timings = new List<double>();
            var cpu = new List<double>();
            using var process = Process.GetCurrentProcess();
            for (var n = 0; n < cycles; n++)
            {
                var at = start.AddMinutes(5 * n);
                var cycle = new AuditCycleRecord { Id = "c" + n, Term = 1, Leader = "bench", StartedAt = at, FinishedAt = at.AddMilliseconds(18) };
                await store.SaveCycleAsync(cycle, CancellationToken.None);
                await store.InsertAsync([.. Series().Select((s, i) => Audit(s.Symbol, s.Timeframe, at, cycle.Id, i, n / 10))], CancellationToken.None);
                process.Refresh();
                var cpuBefore = process.TotalProcessorTime;
                var watch = Stopwatch.StartNew();
                await tracker.ApplyNewAuditsAsync(1, CancellationToken.None);
                timings.Add(watch.Elapsed.TotalMilliseconds);
                process.Refresh();
                cpu.Add((process.TotalProcessorTime - cpuBefore).TotalMilliseconds);
            }

            var steady = timings.Skip(5).Order().ToArray();
            var steadyCpu = cpu.Skip(5).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| incident tracking per audit cycle of 40 series (6 open incidents), SQLite | median {steady[steady.Length / 2]:F2} ms | p95 {steady[(int)(steady.Length * 0.95)]:F2} ms | CPU {steadyCpu.Average():F2} ms per cycle | first {timings[0]:F2} ms | load average {(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a")} |"));
            return 0;
        }
        finally
        {
            LocalServers.DeleteDirectory(work);
        }
    }

    private static IEnumerable<(string Symbol, string Timeframe)> Series() =>
        Pairs.SelectMany(p => Timeframes.Select(t => (p, t)));

    /// <summary>Series 0–3 have a gap (the 4th moves every 10 cycles: one repaired, one opened); 4–5 duplicates.</summary>
    private static AuditRecord Audit(string symbol, string timeframe, DateTimeOffset at, string cycleId, int index, int epoch)
    {
        var interval = Timeframe.Parse(timeframe).Interval;
        var gapAt = at.AddDays(-1).AddHours(2 + (index == 3 ? epoch : 0));
        var aligned = new DateTimeOffset(gapAt.UtcTicks / interval.Ticks * interval.Ticks, TimeSpan.Zero);
        return new AuditRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            CycleId = cycleId,
            Term = 1,
            Symbol = symbol,
            Timeframe = timeframe,
            WindowFrom = at.AddDays(-2),
            WindowTo = at,
            AuditedAt = at,
            ExpectedCandles = 288,
            ActualCandles = 287,
            Gaps = index < 4 ? [new GapFinding(aligned, aligned, 1)] : [],
            Duplicates = index is 4 or 5 ? [new DuplicateFinding(aligned, 2)] : [],
            DuplicateSurplus = index is 4 or 5 ? 1 : 0,
            Health = new HealthScore(99.6, 100, 90, 95.8, "healthy"),
        };
    }
}
