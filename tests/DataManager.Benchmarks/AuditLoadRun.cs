using System.Diagnostics;
using System.Globalization;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MySqlConnector;
using Prometheus;

namespace DataManager.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/DataManager.Benchmarks -- audit-load [--rows N] [--steady-only]</c>: one series of N
/// <c>1m</c> candles in MariaDB (MYSQL_BENCH_URI, else an ephemeral local mariadbd) with scattered defects.
/// Times the engine's full audit against the pull-all baseline (every row, every column, ordered, neighbours
/// compared in memory: the service we replace), both in this run, and a steady cycle over 40 unchanged series.
/// </summary>
public static class AuditLoadRun
{
    private static readonly DateTime Start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static async Task<int> RunAsync(string[] args)
    {
        var rows = args.SkipWhile(a => a != "--rows").Skip(1).Select(int.Parse).FirstOrDefault(1_000_000);
        await using var mariaDb = await BenchMariaDb.StartAsync("512M");
        var admin = mariaDb.AdminConnectionString;
        var work = LocalServers.TempDirectory("dm-audit-load");
        try
        {
            if (args.Contains("--steady-only"))
            {
                var alone = await SteadyCycleAsync(admin, work);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| steady cycle, 40 unchanged series | {alone.Median * 1000:F1} ms | {alone.Runs} |"));
                return 0;
            }

            var database = await LocalMariaDb.CreateDatabaseAsync(admin);
            var m1 = Timeframe.Parse("1m");
            var load = Stopwatch.StartNew();
            var defects = await LoadSeriesAsync(database, m1, "BTCUSDT", Start, rows, gapEvery: rows / 50);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loaded {rows:N0} rows of BTCUSDT 1m with {defects} in {load.Elapsed.TotalSeconds:F1} s"));

            var candles = new SqlCandleStore(new MySqlCandleDialect(database), NullLogger<SqlCandleStore>.Instance);
            var auditor = new SeriesAuditor(candles, Options.Create(new AuditOptions()));
            var series = new SeriesKey("BTCUSDT", m1);
            var end = Start.AddMinutes(rows);

            SeriesAuditReport report = null!;
            var engine = await TimeAsync(5, async () => report = await auditor.AuditAsync(series, Start, end, end, CancellationToken.None));
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            var engineRss = self.PeakWorkingSet64;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"engine: {report.Gaps.Count} gaps, {report.DuplicateSurplus} duplicate rows, {report.Integrity.Count} integrity findings, quality {report.Health?.Quality}"));

            // Each of the engine's queries alone, to see where the time goes.
            var grid = AuditGrid.For(Start, end, m1.Interval);
            var scanAlone = await TimeAsync(3, () => candles.ScanOpenTimesAsync(series, grid.ReadFrom, grid.ReadTo, (_, _) => { }, CancellationToken.None));
            var integrityAlone = await TimeAsync(3, () => candles.IntegritySuspectsAsync(series, grid.ReadFrom, grid.ReadTo, CancellationToken.None));
            var signatureAlone = await TimeAsync(3, () => candles.SignatureAsync(series, grid.ReadFrom, grid.ReadTo, CancellationToken.None));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"alone: scan of open times and id ranges {scanAlone.Median:F3} s, integrity predicates (two halves in parallel) {integrityAlone.Median:F3} s, signature {signatureAlone.Median:F3} s"));

            (int Gaps, int Surplus, int Broken) baselineResult = default;
            var baseline = await TimeAsync(3, async () => baselineResult = await PullAllAsync(candles, series, end));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"baseline: {baselineResult.Gaps} gaps, {baselineResult.Surplus} duplicate rows, {baselineResult.Broken} broken rows"));

            var steady = await SteadyCycleAsync(admin, work);

            Console.WriteLine();
            Console.WriteLine("| measurement | median | runs |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| full audit of {rows:N0} 1m candles (engine) | {engine.Median:F3} s | {engine.Runs} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| same, pull-all baseline | {baseline.Median:F3} s | {baseline.Runs} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| speed-up | {baseline.Median / engine.Median:F1}x | |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| steady cycle, 40 unchanged series | {steady.Median * 1000:F1} ms | {steady.Runs} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| peak RSS after the engine runs (before the baseline) | {engineRss / 1024.0 / 1024.0:F0} MB | |"));
            return 0;
        }
        finally
        {
            LocalServers.DeleteDirectory(work);
        }
    }

    /// <summary>Generates the series inside MariaDB (SEQUENCE engine), then adds duplicates and broken candles.</summary>
    internal static async Task<string> LoadSeriesAsync(string database, Timeframe timeframe, string symbol, DateTime start, int rows, int gapEvery)
    {
        await using var connection = new MySqlConnection(database);
        await connection.OpenAsync();
        await ExecuteAsync(connection, CandleSchema.MySqlCreateTable(timeframe));
        await ExecuteAsync(connection, "SET time_zone = '+00:00'");
        var seconds = (long)timeframe.Interval.TotalSeconds;
        var baseEpoch = new DateTimeOffset(start).ToUnixTimeSeconds();
        for (var chunk = 0; chunk < rows; chunk += 100_000)
        {
            var last = Math.Min(rows, chunk + 100_000) - 1;
            // Every gapEvery-th candle starts a 3-candle gap.
            await ExecuteAsync(connection, $"""
                INSERT INTO {timeframe.TableName}
                SELECT CONCAT('{symbol}_', ({baseEpoch} + seq * {seconds}) * 1000), '{symbol}',
                       FROM_UNIXTIME({baseEpoch} + seq * {seconds}), FROM_UNIXTIME({baseEpoch} + seq * {seconds}),
                       FROM_UNIXTIME({baseEpoch} + seq * {seconds} + {seconds - 1}), '{timeframe.Name}',
                       100 + (seq % 997) / 100, 101 + (seq % 997) / 100, 99 + (seq % 997) / 100, 100.5 + (seq % 997) / 100,
                       10 + seq % 13, 1000 + seq % 13, 5 + seq % 7, 4, 400, NULL, NULL,
                       FROM_UNIXTIME({baseEpoch} + seq * {seconds} + {seconds + 2}), '1.4.2', 'binance-futures'
                FROM seq_{chunk}_to_{last}
                WHERE seq % {gapEvery} NOT IN (7, 8, 9)
                """);
        }

        // 20 duplicated open times under legacy ids, 10 broken candles (high below low).
        await ExecuteAsync(connection, $"""
            INSERT INTO {timeframe.TableName}
            SELECT CONCAT('legacy-', id), symbol, timestamp, open_time, close_time, `interval`, open_price, high_price, low_price, close_price,
                   volume, quote_asset_volume, number_of_trades, taker_buy_base_asset_volume, taker_buy_quote_asset_volume,
                   price_change, price_change_percent, extracted_at, '0.9.0', source
            FROM {timeframe.TableName} WHERE id IN ({string.Join(",", Enumerable.Range(1, 20).Select(i => $"'{symbol}_{(baseEpoch + ((long)i * (rows / 21) * seconds)) * 1000}'"))})
            """);
        await ExecuteAsync(connection, $"""
            UPDATE {timeframe.TableName} SET high_price = low_price - 1
            WHERE id IN ({string.Join(",", Enumerable.Range(1, 10).Select(i => $"'{symbol}_{(baseEpoch + (((long)i * (rows / 11)) + 1) * seconds) * 1000}'"))})
            """);
        await ExecuteAsync(connection, $"ANALYZE TABLE {timeframe.TableName}");
        return $"~{rows / gapEvery} gaps of 3 candles, 20 duplicated open times, 10 broken candles";
    }

    /// <summary>The service we replace: fetch every row with every column, ordered, and compare neighbours in memory.</summary>
    private static async Task<(int Gaps, int Surplus, int Broken)> PullAllAsync(SqlCandleStore candles, SeriesKey series, DateTime end)
    {
        var all = (await candles.ReadLatestAsync(series, int.MaxValue, end, CancellationToken.None)).Value;
        int gaps = 0, surplus = 0, broken = 0;
        for (var i = 1; i < all.Count; i++)
        {
            var step = all[i].Timestamp - all[i - 1].Timestamp;
            if (step == TimeSpan.Zero)
            {
                surplus++;
            }
            else if (step > series.Timeframe.Interval + TimeSpan.FromSeconds(30))
            {
                gaps++;
            }
        }

        foreach (var candle in all)
        {
            if (IntegrityRules.Broken(candle, series.Timeframe.Interval).Any())
            {
                broken++;
            }
        }

        return (gaps, surplus, broken);
    }

    private static async Task<(double Median, int Runs)> SteadyCycleAsync(string admin, string work)
    {
        var database = await LocalMariaDb.CreateDatabaseAsync(admin);
        var now = DateTime.UtcNow;
        var pairs = SeriesOptions.DefaultPairs;
        foreach (var timeframe in Timeframe.ExtractorDefaults)
        {
            var count = (int)(TimeSpan.FromDays(3) / timeframe.Interval);
            var seriesStart = timeframe.Floor(now) - (count * timeframe.Interval);
            foreach (var pair in pairs)
            {
                await LoadSeriesAsync(database, timeframe, pair, seriesStart, count, gapEvery: 1_000_000_000);
            }
        }

        var candles = new SqlCandleStore(new MySqlCandleDialect(database), NullLogger<SqlCandleStore>.Instance);
        var store = new SqliteTestStore(Path.Combine(work, "store.db"));
        await store.InitializeAsync(CancellationToken.None);
        var readiness = new CandleReadiness();
        readiness.MarkReady();
        var audit = Options.Create(new AuditOptions());
        var time = new FixedTime(new DateTimeOffset(now));
        var metrics = new AuditMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry()));
        var remover = new DuplicateRemover(candles, candles, store, audit, metrics, time, NullLogger<DuplicateRemover>.Instance);
        var scheduler = new AuditLoop(new SeriesAuditor(candles, audit), remover, new SqliteConfirmedEmptyRanges(store.Database), candles, store, store, audit,
            Options.Create(new SeriesOptions { PairsConfigured = true }), Options.Create(new CandleDatabaseOptions { MySqlConnectionString = database }),
            Options.Create(new ServiceOptions { PodId = "bench" }), readiness, metrics, time, NullLogger<AuditLoop>.Instance);
        var cold = Stopwatch.StartNew();
        var first = await scheduler.RunCycleAsync(1, CancellationToken.None);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"steady cycle: first (cold) cycle over {first.SeriesAudited} series took {cold.Elapsed.TotalMilliseconds:F0} ms"));
        return await TimeAsync(10, () => scheduler.RunCycleAsync(1, CancellationToken.None));
    }

    internal static async Task<(double Median, int Runs)> TimeAsync(int runs, Func<Task> action)
    {
        await action(); // warm-up
        var seconds = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            await action();
            seconds.Add(watch.Elapsed.TotalSeconds);
        }

        seconds.Sort();
        return (seconds[seconds.Count / 2], runs);
    }

    internal static async Task ExecuteAsync(MySqlConnection connection, string sql)
    {
        await using var command = new MySqlCommand(sql, connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>"Now" stands still, so the steady cycle's grid does not move between runs; elapsed time stays real.</summary>
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
