using System.Diagnostics;
using System.Globalization;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MySqlConnector;
using Prometheus;

namespace DataManager.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/DataManager.Benchmarks -- scale-load [--series 40,400,4000] [--days 7]</c>:
/// N series laid out as the extractor lays them out (one table per timeframe of 5m, 15m, 30m, 1h, 1d, all N/5
/// symbols in each, --days of history) in MariaDB (MYSQL_BENCH_URI, else an ephemeral local mariadbd), audited by
/// the service's own scheduler as the leader runs it (embedded SQLite store, its own metrics registry,
/// the 24 h default window): a cold cycle, a steady cycle with no new data, a cycle five minutes later with one new
/// candle per series (closed for the 5m series only), and one after a judged column of every series changed (all
/// re-audited). Per cycle: wall time, queries MariaDB answered and rows it read (Handler_read_*), store calls, CPU and
/// peak RSS of this process, and the size and render time of the /metrics text after it.
/// </summary>
public static class ScaleLoadRun
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (Environment.GetEnvironmentVariable("DM_SCALE_LOAD_CHILD") is null)
        {
            // Measured under the container image's runtime settings (Dockerfile ENV), so RSS means what it means in a pod.
            // --env NAME=VALUE (repeatable) overrides one, e.g. DOTNET_GCgen0size=0 for the runtime's own gen0 sizing.
            var info = new ProcessStartInfo("dotnet", [typeof(ScaleLoadRun).Assembly.Location, .. args]);
            foreach (var (name, value) in ProcessSample.ImageRuntime.Concat(TrackerLoadRun.Extra(args)).Append(new("DM_SCALE_LOAD_CHILD", "1")))
            {
                info.Environment[name] = value;
            }

            using var child = Process.Start(info)!;
            await child.WaitForExitAsync();
            return child.ExitCode;
        }

        var counts = AuditCliRun.Arg(args, "--series", "40,400,4000").Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray();
        var days = int.Parse(AuditCliRun.Arg(args, "--days", "7"), CultureInfo.InvariantCulture);
        await using var mariaDb = await BenchMariaDb.StartAsync("1G");
        var admin = mariaDb.AdminConnectionString;
        var table = new List<string>();
        foreach (var n in counts)
        {
            table.AddRange(await RunAsync(mariaDb, n, days));
        }

        Console.WriteLine();
        Console.WriteLine("| series | cycle | wall | queries | rows read (Handler_read_*) | store calls (time in them) | CPU | MariaDB CPU | peak RSS (private, file-backed) | managed heap / committed after the cycle | /metrics size | /metrics render | gaps / integrity findings |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        table.ForEach(Console.WriteLine);
        return 0;
    }

    private static async Task<List<string>> RunAsync(BenchMariaDb mariaDb, int n, int days)
    {
        var admin = mariaDb.AdminConnectionString;
        var database = await LocalMariaDb.CreateDatabaseAsync(admin);
        var timeframes = Timeframe.ExtractorDefaults;
        var symbols = Enumerable.Range(0, Math.Max(1, n / timeframes.Count)).Select(SymbolFor).ToList();
        // "Now" stands still between cycles unless moved; the newest candle of every series closed just before it.
        // Open times on the grid, as the extractor writes them (off the grid, every row is an integrity finding).
        var grid = new DateTime(2026, 11, 20, 0, 0, 0, DateTimeKind.Utc);
        var now = grid.AddSeconds(30);
        var load = Stopwatch.StartNew();
        long rows = 0;
        await using (var connection = new MySqlConnection(database))
        {
            await connection.OpenAsync();
            await ExecuteAsync(connection, $"CREATE TEMPORARY TABLE symbols (symbol VARCHAR(20) NOT NULL PRIMARY KEY)");
            await ExecuteAsync(connection, $"INSERT INTO symbols VALUES {string.Join(",", symbols.Select(s => $"('{s}')"))}");
            foreach (var timeframe in timeframes)
            {
                await ExecuteAsync(connection, CandleSchema.MySqlCreateTable(timeframe));
                var count = (long)(TimeSpan.FromDays(days) / timeframe.Interval);
                rows += await InsertCandlesAsync(connection, timeframe, grid - (count * timeframe.Interval), count);
                await ExecuteAsync(connection, $"ANALYZE TABLE {timeframe.TableName}");
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"N = {n}: {symbols.Count} symbols x {timeframes.Count} timeframes, {rows:N0} rows loaded in {load.Elapsed.TotalSeconds:F0} s"));

        var work = LocalServers.TempDirectory("dm-scale-load");
        var candles = new SqlCandleStore(new MySqlCandleDialect(database), NullLogger<SqlCandleStore>.Instance);
        var sqlite = new SqliteTestStore(Path.Combine(work, "store.db"));
        await sqlite.InitializeAsync(CancellationToken.None);
        var store = new CountingStore(sqlite);
        var readiness = new CandleReadiness();
        readiness.MarkReady();
        var audit = Options.Create(new AuditOptions());
        var time = new MovableTime(new DateTimeOffset(now));
        var registry = Metrics.NewCustomRegistry();
        var auditMetrics = new AuditMetrics(Metrics.WithCustomRegistry(registry));
        var remover = new DuplicateRemover(candles, candles, sqlite, audit, auditMetrics, time, NullLogger<DuplicateRemover>.Instance);
        var seriesOptions = new SeriesOptions { PairsConfigured = true, SupportedPairs = symbols, SupportedTimeframes = timeframes };
        var scheduler = new AuditLoop(new SeriesAuditor(candles, audit), remover, new SqliteConfirmedEmptyRanges(sqlite.Database), candles, store, store, audit,
            Options.Create(seriesOptions), Options.Create(new CandleDatabaseOptions { MySqlConnectionString = database }),
            Options.Create(new ServiceOptions { PodId = "bench" }), readiness, auditMetrics, time, NullLogger<AuditLoop>.Instance);

        var lines = new List<string>();
        async Task CycleAsync(string name)
        {
            var before = await StatusAsync(admin);
            var calls = store.Calls;
            var storeTime = store.Elapsed;
            var serverCpu = mariaDb.ServerCpu();
            using var self = Process.GetCurrentProcess();
            var cpu = self.TotalProcessorTime;
            await File.WriteAllTextAsync("/proc/self/clear_refs", "5"); // resets the peak (VmHWM) to the current RSS
            var sample = new ProcessSample();
            var watch = Stopwatch.StartNew();
            var cycle = scheduler.RunCycleAsync(1, CancellationToken.None);
            await sample.WatchAsync(Environment.ProcessId, cycle);
            var record = await cycle;
            var wall = watch.Elapsed.TotalSeconds;
            sample.Take(Environment.ProcessId);
            self.Refresh();
            var cpuSeconds = (self.TotalProcessorTime - cpu).TotalSeconds;
            var serverCpuSeconds = mariaDb.ServerCpu() - serverCpu;
            var after = await StatusAsync(admin);
            var heap = GC.GetGCMemoryInfo();
            var scrape = Stopwatch.StartNew();
            using var metrics = new MemoryStream();
            await registry.CollectAndExportAsTextAsync(metrics);
            var render = scrape.Elapsed.TotalMilliseconds;
            if (record.SeriesAudited != n || record.Errors > 0)
            {
                throw new InvalidOperationException($"cycle audited {record.SeriesAudited} series with {record.Errors} errors");
            }

            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {n:N0} | {name} | {wall:F2} s | {after.Queries - before.Queries - 1:N0} | {after.RowsRead - before.RowsRead:N0} | {store.Calls - calls} ({(store.Elapsed - storeTime).TotalSeconds:F2} s) | {cpuSeconds:F2} s | {(serverCpuSeconds is { } db ? $"{db:F2} s" : "n/a")} | {sample.Memory} | {heap.HeapSizeBytes / 1048576.0:F0} / {heap.TotalCommittedBytes / 1048576.0:F0} MB | {metrics.Length / 1024.0:F0} KB | {render:F0} ms | {record.Gaps} / {record.IntegrityViolations} |"));
            Console.WriteLine(lines[^1]);
        }

        await CycleAsync("cold (first audit of every series)");
        await CycleAsync("steady (no new data)");
        time.Advance(TimeSpan.FromMinutes(5));
        await using (var connection = new MySqlConnection(database))
        {
            await connection.OpenAsync();
            await ExecuteAsync(connection, $"CREATE TEMPORARY TABLE symbols (symbol VARCHAR(20) NOT NULL PRIMARY KEY)");
            await ExecuteAsync(connection, $"INSERT INTO symbols VALUES {string.Join(",", symbols.Select(s => $"('{s}')"))}");
            foreach (var timeframe in timeframes)
            {
                await InsertCandlesAsync(connection, timeframe, grid, 1);
            }
        }

        // Five minutes on, the new candle of a 5m series has closed; the others' are still forming (not audited yet).
        await CycleAsync("5 min later, one new candle per series");
        await CycleAsync("steady (no new data)");
        await using (var connection = new MySqlConnection(database))
        {
            await connection.OpenAsync();
            foreach (var timeframe in timeframes)
            {
                await ExecuteAsync(connection, $"UPDATE {timeframe.TableName} SET volume = volume + 1 WHERE timestamp = '{grid - timeframe.Interval:yyyy-MM-dd HH:mm:ss}'");
            }
        }

        await CycleAsync("a candle of every series changed (all re-audited)");
        await CycleAsync("steady (no new data)");
        LocalServers.DeleteDirectory(work);
        return lines;
    }

    /// <summary>AAAUSDT, AABUSDT, …: letters only, like the exchange's.</summary>
    private static string SymbolFor(int i) => string.Concat((char)('A' + (i / 676 % 26)), (char)('A' + (i / 26 % 26)), (char)('A' + (i % 26))) + "USDT";

    /// <summary>Candles open at start, start + interval, … (count of them) for every symbol of the temporary table, generated inside MariaDB.</summary>
    private static async Task<long> InsertCandlesAsync(MySqlConnection connection, Timeframe timeframe, DateTime start, long count)
    {
        var seconds = (long)timeframe.Interval.TotalSeconds;
        var baseEpoch = new DateTimeOffset(start).ToUnixTimeSeconds();
        await ExecuteAsync(connection, "SET time_zone = '+00:00'");
        await using var command = new MySqlCommand($"""
            INSERT INTO {timeframe.TableName}
            SELECT CONCAT(s.symbol, '_', ({baseEpoch} + seq * {seconds}) * 1000), s.symbol,
                   FROM_UNIXTIME({baseEpoch} + seq * {seconds}), FROM_UNIXTIME({baseEpoch} + seq * {seconds}),
                   FROM_UNIXTIME({baseEpoch} + seq * {seconds} + {seconds - 1}), '{timeframe.Name}',
                   100 + (seq % 997) / 100, 101 + (seq % 997) / 100, 99 + (seq % 997) / 100, 100.5 + (seq % 997) / 100,
                   10 + seq % 13, 1000 + seq % 13, 5 + seq % 7, 4, 400, NULL, NULL,
                   FROM_UNIXTIME({baseEpoch} + seq * {seconds} + {seconds + 2}), '1.4.2', 'binance-futures'
            FROM symbols s CROSS JOIN seq_0_to_{count - 1}
            """, connection) { CommandTimeout = 1800 };
        return await command.ExecuteNonQueryAsync();
    }

    internal static async Task<(long Queries, long RowsRead)> StatusAsync(string admin)
    {
        await using var connection = new MySqlConnection(admin);
        await connection.OpenAsync();
        await using var command = new MySqlCommand("SHOW GLOBAL STATUS WHERE Variable_name = 'Questions' OR Variable_name LIKE 'Handler_read%'", connection);
        await using var reader = await command.ExecuteReaderAsync();
        long queries = 0, rows = 0;
        while (await reader.ReadAsync())
        {
            var value = long.Parse(reader.GetString(1), CultureInfo.InvariantCulture);
            if (reader.GetString(0) == "Questions")
            {
                queries = value;
            }
            else
            {
                rows += value;
            }
        }

        return (queries, rows);
    }

    private static async Task ExecuteAsync(MySqlConnection connection, string sql)
    {
        await using var command = new MySqlCommand(sql, connection) { CommandTimeout = 1800 };
        await command.ExecuteNonQueryAsync();
    }

    private sealed class MovableTime(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public void Advance(TimeSpan by) => _now += by;

        public override DateTimeOffset GetUtcNow() => _now;
    }

    /// <summary>The SQLite store, counting the calls the scheduler makes (each one round trip on MongoDB).</summary>
    private sealed class CountingStore(SqliteTestStore inner) : IAuditStore, IHealthScoreStore
    {
        private int _calls;
        private long _ticks;

        public int Calls => Volatile.Read(ref _calls);

        /// <summary>Time spent inside store calls (they run one at a time in a cycle).</summary>
        public TimeSpan Elapsed => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));

        private async Task<T> Count<T>(Func<Task<T>> call)
        {
            Interlocked.Increment(ref _calls);
            var start = Stopwatch.GetTimestamp();
            try
            {
                return await call();
            }
            finally
            {
                Interlocked.Add(ref _ticks, Stopwatch.GetElapsedTime(start).Ticks);
            }
        }

        private Task<int> Count(Func<Task> call) => Count(async () =>
        {
            await call();
            return 0;
        });

        public Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken) => Count(() => inner.InsertAsync(records, cancellationToken));

        public Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) => Count(() => inner.QueryAsync(query, cancellationToken));

        public Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken) => Count(() => inner.LatestPerSeriesAsync(cancellationToken));

        public Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken) => Count(() => inner.SaveCycleAsync(cycle, cancellationToken));

        public Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken) => Count(() => inner.RecentCyclesAsync(limit, cancellationToken));

        public Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) => Count(() => ((IAuditStore)inner).PruneAsync(olderThan, cancellationToken));

        public Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken) => Count(() => inner.AppendAsync(scores, cancellationToken));

        public Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
            Count(() => inner.HistoryAsync(symbol, timeframe, from, to, limit, cancellationToken));

        Task<long> IHealthScoreStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) => Count(() => ((IHealthScoreStore)inner).PruneAsync(olderThan, cancellationToken));
    }
}
