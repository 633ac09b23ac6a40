using System.Diagnostics;
using System.Globalization;
using DataManager.Analytics;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MySqlConnector;
using Prometheus;

namespace DataManager.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/DataManager.Benchmarks -- analytics-load [--series 40,400,4000] [--candles 500] [--history 500]</c>:
/// MariaDB (MYSQL_BENCH_URI, else an ephemeral local mariadbd) laid out as the extractor lays it out, one table
/// per timeframe with every symbol in it (N / 5 symbols × the five extractor timeframes), then analytics cycles
/// through the real scheduler and SQL candle reader: wall time, this process's CPU and mariadbd's (from /proc), the
/// queries MariaDB answered and the rows it read (Handler_read_*),
/// allocations, the peak of the managed heap and the process's peak RSS during the cycle (VmHWM reset before it),
/// and the load average when it ended. The results go to a store that only counts them (writing them is the store's cost, not this one).
/// </summary>
public static class AnalyticsLoadRun
{
    private static readonly DateTime End = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static async Task<int> RunAsync(string[] args)
    {
        var counts = (args.SkipWhile(a => a != "--series").Skip(1).FirstOrDefault() ?? "40,400,4000").Split(',').Select(int.Parse).ToArray();
        var candles = args.SkipWhile(a => a != "--candles").Skip(1).Select(int.Parse).FirstOrDefault(500);
        // Candles stored per series (at least the lookback): a real table holds more history than one cycle reads.
        var history = Math.Max(candles, args.SkipWhile(a => a != "--history").Skip(1).Select(int.Parse).FirstOrDefault(candles));
        var timeframes = Timeframe.ExtractorDefaults;
        var symbolsNeeded = counts.Max() / timeframes.Count;
        await using var mariaDb = await BenchMariaDb.StartAsync("512M");
        var admin = mariaDb.AdminConnectionString;
        var database = await LocalMariaDb.CreateDatabaseAsync(admin);
        var load = Stopwatch.StartNew();
        await LoadAsync(database, timeframes, symbolsNeeded, history);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"loaded {symbolsNeeded} symbols x {timeframes.Count} timeframes x {history} candles ({symbolsNeeded * timeframes.Count * history:N0} rows) in {load.Elapsed.TotalSeconds:F1} s; each cycle reads the newest {candles}"));

        var source = new SqlCandleStore(new MySqlCandleDialect(database), NullLogger<SqlCandleStore>.Instance);
        Console.WriteLine();
        Console.WriteLine("| series | cycle | wall | CPU | mariadbd CPU | queries | rows read (Handler_read_*) | allocated | managed heap peak | heap after a collection, peak | peak RSS | load average | results |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var n in counts)
        {
            var store = new CountingAnalyticsStore();
            var readiness = new CandleReadiness();
            readiness.MarkReady();
            var scheduler = new AnalyticsScheduler(source, store,
                Options.Create(new AnalyticsOptions { LookbackCandles = candles }),
                Options.Create(new SeriesOptions { SupportedPairs = [.. Enumerable.Range(1, n / timeframes.Count).Select(Symbol)], PairsConfigured = true }),
                Options.Create(new CandleDatabaseOptions { MySqlConnectionString = database }),
                readiness, new AnalyticsMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())), new FixedTime(End.AddSeconds(1)), NullLogger<AnalyticsScheduler>.Instance);
            for (var cycle = 1; cycle <= 3; cycle++)
            {
                var run = await MeasureAsync(mariaDb, () => scheduler.RunCycleAsync(1, CancellationToken.None));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {n:N0} | {(cycle == 1 ? "first" : cycle.ToString(CultureInfo.InvariantCulture))} | {run.Wall:F2} s | {run.Cpu:F2} s | {Seconds(run.ServerCpu)} | {run.Queries:N0} | {run.RowsRead:N0} | {run.Allocated / 1048576.0:F0} MB | {run.PeakHeap / 1048576.0:F0} MB | {(run.PeakLive == 0 ? "— (no collection ran)" : $"{run.PeakLive / 1048576.0:F0} MB")} | {run.PeakRss / 1048576.0:F0} MB | {run.LoadAverage} | {run.Results:N0} |"));
            }
        }

        await BreakDownAsync(mariaDb, source, timeframes, symbolsNeeded, candles);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"process peak RSS over the cycles and parts: {_peakRss / 1048576.0:F0} MB"));
        return 0;
    }

    /// <summary>The largest cycle's parts alone: the reads, the metric groups, one timeframe's correlation matrix.</summary>
    private static async Task BreakDownAsync(BenchMariaDb mariaDb, SqlCandleStore source, IReadOnlyList<Timeframe> timeframes, int symbols, int candles)
    {
        var keys = timeframes.SelectMany(t => Enumerable.Range(1, symbols).Select(i => new SeriesKey(Symbol(i), t))).ToArray();
        var before = End;
        var reads = await MeasureAsync(mariaDb, async () =>
        {
            var rows = 0;
            await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (key, token) =>
                Interlocked.Add(ref rows, (await source.ReadLatestAsync(key, candles, before, token)).Value.Count));
            return rows;
        });
        var narrowReads = await MeasureAsync(mariaDb, async () =>
        {
            var rows = 0;
            await Parallel.ForEachAsync(keys.Chunk(100), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (chunk, token) =>
                Interlocked.Add(ref rows, (await source.ReadLatestOhlcvAsync(chunk[0].Timeframe, [.. chunk.Select(k => k.Symbol)], candles, before, token)).Value.Values.Sum(r => r.Count)));
            return rows;
        });
        var oneTimeframe = new List<SeriesData>();
        var first = keys.Where(k => k.Timeframe == timeframes[0]).ToArray();
        var read = (await source.ReadLatestOhlcvAsync(timeframes[0], [.. first.Select(k => k.Symbol)], candles, before, CancellationToken.None)).Value;
        foreach (var key in first)
        {
            oneTimeframe.Add(new SeriesData(key, read[key.Symbol]));
        }

        var groups = await MeasureAsync(mariaDb, () => Task.FromResult(oneTimeframe.Sum(s => AnalyticsCalculator.Compute(s).Count)));
        var correlation = await MeasureAsync(mariaDb, () => Task.FromResult(AnalyticsCalculator.Correlation([.. oneTimeframe.Select(CorrelationInput.From)]).Values.Count));
        Console.WriteLine();
        Console.WriteLine("| part | wall | CPU | mariadbd CPU | queries | rows read (Handler_read_*) | allocated | count |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        void Row(string part, (double Wall, double Cpu, double? ServerCpu, long Queries, long RowsRead, long Allocated, long PeakHeap, long PeakLive, long PeakRss, string LoadAverage, int Results) run, string unit) =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {part} | {run.Wall:F2} s | {run.Cpu:F2} s | {Seconds(run.ServerCpu)} | {run.Queries:N0} | {run.RowsRead:N0} | {run.Allocated / 1048576.0:F0} MB | {run.Results:N0} {unit} |"));
        Row($"full-candle reads (ReadLatestAsync), all {keys.Length:N0} series", reads, "rows");
        Row($"OHLCV reads (ReadLatestOhlcvAsync, 100 symbols a query, 4 at a time), all {keys.Length:N0} series", narrowReads, "rows");
        Row($"metric groups, one timeframe ({symbols} series, x{timeframes.Count} for all)", groups, "groups");
        Row($"correlation, one timeframe ({symbols} series, x{timeframes.Count} for all)", correlation, "pairs");
    }

    private static string Symbol(int i) => string.Create(CultureInfo.InvariantCulture, $"S{i:D4}USDT");

    /// <summary>The largest per-run peak: each run resets VmHWM, so the process's own peak at the end is only the last run's.</summary>
    private static long _peakRss;

    private static string Seconds(double? seconds) => seconds is { } s ? string.Create(CultureInfo.InvariantCulture, $"{s:F2} s") : "n/a";

    /// <summary>
    /// PeakHeap: the managed heap sampled every 5 ms, garbage included; PeakLive: the largest heap a collection
    /// during the run left behind; PeakRss: VmHWM, reset to the current RSS just before the run.
    /// </summary>
    private static async Task<(double Wall, double Cpu, double? ServerCpu, long Queries, long RowsRead, long Allocated, long PeakHeap, long PeakLive, long PeakRss, string LoadAverage, int Results)> MeasureAsync(BenchMariaDb mariaDb, Func<Task<int>> cycle)
    {
        // The server's own counters (global: the run is alone on its server unless MYSQL_BENCH_URI shares one); the
        // second counting statement counts as one query.
        var status = await ScaleLoadRun.StatusAsync(mariaDb.AdminConnectionString);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        await File.WriteAllTextAsync("/proc/self/clear_refs", "5");
        var serverCpu = mariaDb.ServerCpu();
        var cpu = self.TotalProcessorTime;
        var allocated = GC.GetTotalAllocatedBytes();
        long peak = GC.GetTotalMemory(false), live = 0;
        var gcs = GC.CollectionCount(0);
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false));
                if (GC.CollectionCount(0) != gcs)
                {
                    live = Math.Max(live, GC.GetGCMemoryInfo().HeapSizeBytes);
                }

                await Task.Delay(5);
            }
        });
        var wall = Stopwatch.StartNew();
        var results = await cycle();
        wall.Stop();
        await stop.CancelAsync();
        await sampler;
        self.Refresh();
        _peakRss = Math.Max(_peakRss, self.PeakWorkingSet64);
        var loadAverage = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "n/a";
        (double Cpu, double? ServerCpu, long Allocated) used = ((self.TotalProcessorTime - cpu).TotalSeconds, mariaDb.ServerCpu() - serverCpu, GC.GetTotalAllocatedBytes() - allocated);
        var statusAfter = await ScaleLoadRun.StatusAsync(mariaDb.AdminConnectionString);
        return (wall.Elapsed.TotalSeconds, used.Cpu, used.ServerCpu, statusAfter.Queries - status.Queries - 1, statusAfter.RowsRead - status.RowsRead, used.Allocated,
            peak, live, self.PeakWorkingSet64, loadAverage, results);
    }

    private static async Task LoadAsync(string database, IReadOnlyList<Timeframe> timeframes, int symbols, int candles)
    {
        await using var connection = new MySqlConnection(database);
        await connection.OpenAsync();
        await AuditLoadRun.ExecuteAsync(connection, "SET time_zone = '+00:00'");
        foreach (var timeframe in timeframes)
        {
            await AuditLoadRun.ExecuteAsync(connection, CandleSchema.MySqlCreateTable(timeframe));
            var seconds = (long)timeframe.Interval.TotalSeconds;
            var first = new DateTimeOffset(End).ToUnixTimeSeconds() - (candles * seconds);

            // Every symbol's candles end at End; prices wander differently per symbol (seq: candle, sym.seq: symbol).
            await AuditLoadRun.ExecuteAsync(connection, $"""
                INSERT INTO {timeframe.TableName}
                SELECT CONCAT(s, '_', t * 1000), s, FROM_UNIXTIME(t), FROM_UNIXTIME(t), FROM_UNIXTIME(t + {seconds - 1}), '{timeframe.Name}',
                       p, p + 1, p - 1, p + (CAST((j * 31 + k * 17) % 200 AS SIGNED) - 100) / 100, 10 + j % 13, 1000 + j % 13, 5 + j % 7, 4, 400, NULL, NULL,
                       FROM_UNIXTIME(t + {seconds + 2}), '1.4.2', 'binance-futures'
                FROM (SELECT sym.seq AS k, CONCAT('S', LPAD(sym.seq, 4, '0'), 'USDT') AS s, c.seq AS j, {first} + c.seq * {seconds} AS t,
                             100 + ((c.seq * 7919 + sym.seq * 104729) % 1000) / 100 AS p
                      FROM seq_1_to_{symbols} sym CROSS JOIN seq_0_to_{candles - 1} c) x
                """);
            await AuditLoadRun.ExecuteAsync(connection, $"ANALYZE TABLE {timeframe.TableName}");
        }
    }

    private sealed class FixedTime(DateTime now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(now, TimeSpan.Zero);
    }

    private sealed class CountingAnalyticsStore : IAnalyticsStore
    {
        public int Inserted { get; private set; }

        public Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken)
        {
            Inserted += results.Count;
            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) => Task.FromResult(0L);
    }
}
