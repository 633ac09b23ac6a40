using System.Diagnostics;
using System.Globalization;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MySqlConnector;

namespace DataManager.Benchmarks;

/// <summary>
/// <c>backfill-load [--budget-limited-per-minute 60]</c>: 30 days of 1m candles for one symbol (43,200) from the
/// fake Binance with 50 ms per request into MariaDB, with the budget ample; then a long job under a small budget,
/// reporting the weight used in each full minute against that budget.
/// </summary>
public static class BackfillLoadRun
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");

    public static async Task<int> RunAsync(string[] args)
    {
        var limited = int.Parse(args.SkipWhile(a => a != "--budget-limited-per-minute").Skip(1).FirstOrDefault() ?? "60", CultureInfo.InvariantCulture);
        await using var maria = await LocalMariaDb.StartAsync();
        await using var fake = await FakeBinance.StartAsync();
        fake.LatencyMs = 50;
        var work = LocalServers.TempDirectory("dm-backfill-load");
        try
        {
            var start = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
            var ample = await RunJobAsync(maria, fake, work, 2400, start, start.AddDays(30));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| 30 days of 1m (43,200 candles), budget 2400/min, 50 ms per request | {ample.Elapsed.TotalSeconds:F2} s | {ample.Job.WrittenCandles:N0} written | weight {ample.Weight} | {ample.TooMany} × 429 |"));
            Console.WriteLine(ample.Phases);
            // The same job again in this process (a fresh table): its code is compiled, as in a service that has run before.
            var warm = await RunJobAsync(maria, fake, work, 2400, start, start.AddDays(30));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| the same, again in the same process (warm) | {warm.Elapsed.TotalSeconds:F2} s | {warm.Job.WrittenCandles:N0} written | weight {warm.Weight} | {warm.TooMany} × 429 |"));
            Console.WriteLine(warm.Phases);
            await ParseCostAsync(fake, start);
            if (args.Contains("--ample-only"))
            {
                return 0;
            }

            await PresenceCostAsync(maria, start);

            // Under a small budget: enough pages for three full minutes of it.
            var pages = (int)Math.Ceiling(limited * 3.5 / 2);
            var throttled = await RunJobAsync(maria, fake, work, limited, start, start.AddMinutes(pages * BinanceWeights.CandlesPerRequest), sampleMinutes: true);
            var minutes = throttled.PerMinute.Select(w => w * 100.0 / limited).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| budget {limited}/min is the limit: weight per full minute | {string.Join(", ", throttled.PerMinute)} | {minutes.Min():F0}–{minutes.Max():F0} % of the budget | {throttled.TooMany} × 429 |"));
            return 0;
        }
        finally
        {
            LocalServers.DeleteDirectory(work);
        }
    }

    /// <summary>
    /// The cost of checking presence by (symbol, timestamp): 43,200 candles written in batches of 4 pages
    /// (1,996 rows) with INSERT IGNORE alone (presence by id only) and with the check, into an empty table and
    /// again over the rows just written (a re-run: everything present).
    /// </summary>
    private static async Task PresenceCostAsync(LocalMariaDb maria, DateTimeOffset start)
    {
        var series = new SeriesKey("BTCUSDT", M1);
        var rows = Enumerable.Range(0, 43_200).Select(i => DemoCandles.Make("BTCUSDT", M1, start.UtcDateTime.AddMinutes(i), 1m, 2m, 0.5m, 1.5m, 1m, 1)).ToList();
        async Task<(double Empty, double Rerun)> TimeAsync(Func<SqlCandleStore, IReadOnlyList<Candle>, Task<int>> write)
        {
            var candles = await CandleTableAsync(maria);
            var times = new double[2];
            for (var run = 0; run < 2; run++)
            {
                var watch = Stopwatch.StartNew();
                foreach (var batch in rows.Chunk(4 * BinanceWeights.CandlesPerRequest))
                {
                    await write(candles, batch);
                }

                times[run] = watch.Elapsed.TotalSeconds;
            }

            return (times[0], times[1]);
        }

        var ignore = await TimeAsync((candles, batch) => candles.InsertIgnoreAsync(M1, batch, CancellationToken.None));
        var missing = await TimeAsync((candles, batch) => candles.InsertMissingAsync(series, batch, CancellationToken.None));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| 43,200 candles in batches of 1,996: INSERT IGNORE (by id) / with the presence check | empty table {ignore.Empty:F2} s / {missing.Empty:F2} s | all present {ignore.Rerun:F2} s / {missing.Rerun:F2} s |"));
    }

    /// <summary>A fresh database holding an empty <c>klines_m1</c>.</summary>
    private static async Task<SqlCandleStore> CandleTableAsync(LocalMariaDb maria)
    {
        var database = await LocalMariaDb.CreateDatabaseAsync(maria.AdminConnectionString);
        await using (var connection = new MySqlConnection(database))
        {
            await connection.OpenAsync();
            await using var create = new MySqlCommand(CandleSchema.MySqlCreateTable(M1), connection);
            await create.ExecuteNonQueryAsync();
        }

        return new SqlCandleStore(new MySqlCandleDialect(database), NullLogger<SqlCandleStore>.Instance);
    }

    private sealed record Outcome(BackfillJob Job, TimeSpan Elapsed, int Weight, int TooMany, int[] PerMinute, string Phases);

    /// <summary>CPU of parsing the 87 pages of the 30-day run (one page fetched, parsed 87 times, after a warm-up).</summary>
    private static async Task ParseCostAsync(FakeBinance fake, DateTimeOffset start)
    {
        using var http = new HttpClient { BaseAddress = fake.Url };
        var page = BinanceWeights.Plan(start, start.AddDays(1), M1.Interval).First();
        var body = await http.GetByteArrayAsync(string.Create(CultureInfo.InvariantCulture,
            $"/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={page.StartMs}&endTime={page.EndMs}&limit={page.Limit}"));
        BinanceKlines.Parse(body, "BTCUSDT", M1, DateTime.UtcNow, "bench");
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 87; i++)
        {
            BinanceKlines.Parse(body, "BTCUSDT", M1, DateTime.UtcNow, "bench");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"parsing 87 pages of 499 klines ({body.Length:N0} bytes each), warm: {watch.Elapsed.TotalMilliseconds:F0} ms wall, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds:F0} ms CPU"));
    }

    private static async Task<Outcome> RunJobAsync(LocalMariaDb maria, FakeBinance fake, string work, int budget, DateTimeOffset from, DateTimeOffset to, bool sampleMinutes = false)
    {
        var candles = await CandleTableAsync(maria);
        var store = new SqliteTestStore(Path.Combine(work, Guid.NewGuid().ToString("N") + ".db"));
        await store.InitializeAsync(CancellationToken.None);
        var options = new BackfillOptions { BinanceBaseUrl = fake.Url, BinanceRateLimit = budget };
        var phases = new PhaseClock();
        await using var services = BackfillServices.Build(options, store, candles, replace: s => s
            .AddSingleton<ICandleWriter>(new TimedWriter(candles, phases))
            .AddSingleton<IBackfillJobStore>(new TimedJobs(store, phases)));
        var job = BackfillJobs.New(new SeriesKey("BTCUSDT", M1), from, to, BackfillTriggers.Manual, DateTimeOffset.UtcNow);
        await store.CreateAsync(job, CancellationToken.None);

        var weightBefore = fake.WeightServed;
        var tooManyBefore = fake.TooManyRequests;
        var samples = new List<(DateTimeOffset At, int Weight)>();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested && sampleMinutes)
            {
                lock (samples)
                {
                    samples.Add((DateTimeOffset.UtcNow, fake.WeightServed));
                }

                await Task.Delay(50, CancellationToken.None);
            }
        });
        var runner = services.GetRequiredService<BackfillRunner>();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var mariaCpu = ProcessCpu(maria.ProcessId);
        var watch = Stopwatch.StartNew();
        var done = await runner.RunJobAsync(job, 1, CancellationToken.None);
        watch.Stop();
        var phaseLine = phases.Describe(watch.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu, ProcessCpu(maria.ProcessId) - mariaCpu);
        if (Environment.GetEnvironmentVariable("BENCH_PERF_MARKS") == "1")
        {
            // For `perf record -k CLOCK_MONOTONIC`: the job's window on the clock Stopwatch reads on Linux.
            phaseLine += string.Create(CultureInfo.InvariantCulture, $"; monotonic {(Stopwatch.GetTimestamp() - watch.Elapsed.Ticks * (Stopwatch.Frequency / TimeSpan.TicksPerSecond)) / (double)Stopwatch.Frequency:F3}–{Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency:F3} s");
        }
        await sampling.CancelAsync();
        await sampler;

        // Weight served within each full UTC minute inside the run.
        var perMinute = samples.Count == 0 ? [] : samples
            .GroupBy(s => s.At.ToUnixTimeSeconds() / 60)
            .Skip(1).SkipLast(1) // the first and last minutes are partial
            .Select(g => g.Max(s => s.Weight) - samples.Where(s => s.At.ToUnixTimeSeconds() / 60 < g.Key).Select(s => s.Weight).DefaultIfEmpty(weightBefore).Max())
            .ToArray();
        return new Outcome(done, watch.Elapsed, fake.WeightServed - weightBefore, fake.TooManyRequests - tooManyBefore, perMinute, phaseLine);
    }

    private static TimeSpan ProcessCpu(int pid)
    {
        var sample = new ProcessSample();
        return sample.Take(pid) ? TimeSpan.FromSeconds(sample.CpuSeconds) : TimeSpan.Zero;
    }

    /// <summary>Wall time the runner spent in each port (the rest is waiting for pages and its own CPU).</summary>
    private sealed class PhaseClock
    {
        private readonly Dictionary<string, (int Calls, TimeSpan Time)> _phases = [];

        public async Task<T> TimeAsync<T>(string phase, Func<Task<T>> call)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                return await call();
            }
            finally
            {
                Add(phase, Stopwatch.GetElapsedTime(started));
            }
        }

        public void Add(string phase, TimeSpan elapsed)
        {
            lock (_phases)
            {
                var (calls, time) = _phases.GetValueOrDefault(phase);
                _phases[phase] = (calls + 1, time + elapsed);
            }
        }

        public string Describe(TimeSpan total, TimeSpan cpu, TimeSpan mariaCpu)
        {
            lock (_phases)
            {
                var inPorts = _phases.Values.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Time);
                var parts = _phases.OrderByDescending(p => p.Value.Time).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value.Time.TotalSeconds:F2} s ({p.Value.Calls})"));
                return string.Create(CultureInfo.InvariantCulture,
                    $"  phases: {string.Join(", ", parts)}, waiting for pages and the rest {(total - inPorts).TotalSeconds:F2} s; CPU: this process {cpu.TotalSeconds:F2} s (runner, fake Binance, SQLite), mariadbd {mariaCpu.TotalSeconds:F2} s");
            }
        }
    }

    private sealed class TimedWriter(ICandleWriter inner, PhaseClock clock) : ICandleWriter
    {
        public Task<int> InsertIgnoreAsync(Timeframe timeframe, IReadOnlyList<Candle> candles, CancellationToken cancellationToken) =>
            inner.InsertIgnoreAsync(timeframe, candles, cancellationToken);

        public Task<int> InsertMissingAsync(SeriesKey series, IReadOnlyList<Candle> candles, CancellationToken cancellationToken) =>
            clock.TimeAsync("candle writes", () => inner.InsertMissingAsync(series, candles, cancellationToken));

        public Task<int> RemoveDuplicatesAsync(SeriesKey series, IReadOnlyList<(DateTime OpenTime, string KeepId, IReadOnlyList<string> RemoveIds)> removals, CancellationToken cancellationToken) =>
            inner.RemoveDuplicatesAsync(series, removals, cancellationToken);
    }

    private sealed class TimedJobs(IBackfillJobStore inner, PhaseClock clock) : IBackfillJobStore
    {
        public Task CreateAsync(BackfillJob job, CancellationToken cancellationToken) => inner.CreateAsync(job, cancellationToken);

        public Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) =>
            clock.TimeAsync("job reads", () => inner.GetAsync(id, cancellationToken));

        public Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) => inner.ListAsync(state, limit, cancellationToken);

        public Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
            inner.ListNewestAsync(state, after, limit, cancellationToken);

        public Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) => inner.PruneFinishedAsync(createdBefore, cancellationToken);

        public Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken) => inner.CountByStateAsync(cancellationToken);

        private long _lastUpdate;

        // The verification (the audit of the range) runs between the last progress update and the completing one.
        public async Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken)
        {
            if (job.State == BackfillJobState.Completed)
            {
                clock.Add("verification", Stopwatch.GetElapsedTime(_lastUpdate));
            }

            var updated = await clock.TimeAsync("job updates", () => inner.TryUpdateAsync(job, expectedVersion, cancellationToken));
            _lastUpdate = Stopwatch.GetTimestamp();
            return updated;
        }
    }
}
