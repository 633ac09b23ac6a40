using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Backfill;

/// <summary>
/// The job's pipeline: pages fetched ahead while earlier ones are written, the cursor stored only over committed
/// rows, and its progress log. Real MariaDB, the fake Binance on loopback, the SQLite job store.
/// </summary>
[Trait("Category", "Server")]
public sealed class BackfillPipelineTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly SeriesKey Series = new("BTCUSDT", M1);
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-backfill-pipeline");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Cancelled_while_pages_are_in_flight_the_cursor_never_passes_a_row_not_committed_and_resuming_writes_each_candle_once()
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.LatencyMs = 30; // several pages in flight while a batch is written
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var store = await StoreAsync();
        var checkedStore = new CursorCheckingStore(store, candles);
        var options = new BackfillOptions { BinanceBaseUrl = fake.Url, Prefetch = 4 };
        await using var services = BackfillServices.Build(options, store, candles, replace: s => s.AddSingleton<IBackfillJobStore>(checkedStore));
        var runner = services.GetRequiredService<BackfillRunner>();
        var end = Start.AddMinutes(40 * BinanceWeights.CandlesPerRequest);
        var job = BackfillJobs.New(Series, Start, end, BackfillTriggers.Manual, DateTimeOffset.UtcNow);
        await store.CreateAsync(job, Ct);

        // Stopped at three points of the run (after 3, 11 and 23 requests: fetches ahead of the writes each time),
        // then resumed from the stored job to its end.
        foreach (var requests in new[] { 3, 11, 23 })
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var stopper = Task.Run(async () =>
            {
                while (fake.Requests < requests && !stop.IsCancellationRequested)
                {
                    await Task.Delay(2, CancellationToken.None);
                }

                await stop.CancelAsync();
            }, CancellationToken.None);
            var stored = await store.GetAsync(job.Id, Ct) ?? throw new InvalidOperationException("job gone");
            var run = await Record.ExceptionAsync(() => runner.RunJobAsync(stored, 1, stop.Token));
            await stopper;
            Assert.True(run is not null, "the job ran to its end before the cancel"); // the cancel surfaces from wherever it hit (a fetch, the write, the store)
            var after = await store.GetAsync(job.Id, Ct);
            Assert.Equal(BackfillJobState.Running, after!.State);
            Assert.True(after.Cursor is null || await CommittedAsync(candles, after.Cursor.Value) == Minutes(Start, after.Cursor.Value),
                $"stopped after {requests} requests: the cursor {after.Cursor:O} passes rows not committed");
        }

        var done = await runner.RunJobAsync((await store.GetAsync(job.Id, Ct))!, 1, Ct);
        Assert.Equal(BackfillJobState.Completed, done.State);
        Assert.True(checkedStore.CursorsChecked >= 10, $"only {checkedStore.CursorsChecked} cursor updates were checked");
        Assert.Empty(checkedStore.Violations);
        var summary = (await candles.SummarizeAsync(Series, Start.UtcDateTime, end.UtcDateTime, Ct)).Value;
        Assert.Equal((Minutes(Start, end), Minutes(Start, end)), (summary.Rows, summary.DistinctOpenTimes));
    }

    [Fact]
    public async Task A_running_job_logs_its_progress_at_most_once_a_minute()
    {
        await using var fake = await FakeBinance.StartAsync();
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var store = await StoreAsync();
        var end = Start.AddMinutes(20 * BinanceWeights.CandlesPerRequest);
        var time = new FakeTimeProvider(end.AddDays(1));
        var lines = new TimedLines(time);
        // One page per write, so the job commits 20 times; each commit moves the clock 25 s (500 s in all).
        var options = new BackfillOptions { BinanceBaseUrl = fake.Url, Prefetch = 1 };
        await using var services = BackfillServices.Build(options, store, candles, time: time,
            logging: builder => builder.AddProvider(lines).SetMinimumLevel(LogLevel.Information));
        var job = BackfillJobs.New(Series, Start, end, BackfillTriggers.Manual, time.GetUtcNow());
        await store.CreateAsync(job, Ct);

        var done = await services.GetRequiredService<BackfillRunner>().RunJobAsync(job, 1, Ct, new AdvanceOnEachCommit(time, TimeSpan.FromSeconds(25)));

        Assert.Equal(BackfillJobState.Completed, done.State);
        var progress = lines.Entries.Where(e => e.Message.Contains("candles fetched", StringComparison.Ordinal)).Select(e => e.At).ToList();
        // 500 s of commits: a line at 75 s (the first commit at least a minute after the start), then every 75 s.
        Assert.InRange(progress.Count, 5, 8);
        Assert.All(progress.Zip(progress.Skip(1)), pair => Assert.True(pair.Second - pair.First >= BackfillRunner.ProgressLogInterval,
            $"progress lines at {pair.First:O} and {pair.Second:O}, less than a minute apart"));
    }

    private static long Minutes(DateTimeOffset from, DateTimeOffset to) => (long)(to - from).TotalMinutes;

    private static async Task<long> CommittedAsync(SqlCandleStore candles, DateTimeOffset before) =>
        (await candles.SummarizeAsync(Series, Start.UtcDateTime, before.UtcDateTime, CancellationToken.None)).Value.DistinctOpenTimes;

    private async Task<SqliteTestStore> StoreAsync()
    {
        var directory = Path.Combine(_directory, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var store = new SqliteTestStore(Path.Combine(directory, "datamanager.db"));
        await store.InitializeAsync(Ct);
        return store;
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);

    /// <summary>Before every stored job update, checks that every candle before its cursor is committed (read from another connection).</summary>
    private sealed class CursorCheckingStore(IBackfillJobStore inner, SqlCandleStore candles) : IBackfillJobStore
    {
        private readonly List<string> _violations = [];
        private int _checked;

        public int CursorsChecked => Volatile.Read(ref _checked);

        public IReadOnlyList<string> Violations
        {
            get
            {
                lock (_violations)
                {
                    return [.. _violations];
                }
            }
        }

        public async Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken)
        {
            if (job.Cursor is { } cursor)
            {
                var committed = await CommittedAsync(candles, cursor);
                Interlocked.Increment(ref _checked);
                if (committed != Minutes(Start, cursor))
                {
                    lock (_violations)
                    {
                        _violations.Add($"cursor {cursor:O} stored over {committed} committed of {Minutes(Start, cursor)} candles");
                    }
                }
            }

            return await inner.TryUpdateAsync(job, expectedVersion, cancellationToken);
        }

        public Task CreateAsync(BackfillJob job, CancellationToken cancellationToken) => inner.CreateAsync(job, cancellationToken);

        public Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) => inner.GetAsync(id, cancellationToken);

        public Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) => inner.ListAsync(state, limit, cancellationToken);

        public Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
            inner.ListNewestAsync(state, after, limit, cancellationToken);

        public Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) => inner.PruneFinishedAsync(createdBefore, cancellationToken);

        public Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken) => inner.CountByStateAsync(cancellationToken);
    }

    /// <summary>Moves the fake clock on each committed batch (the runner reports after each cursor update, in its own flow).</summary>
    private sealed class AdvanceOnEachCommit(FakeTimeProvider time, TimeSpan step) : IProgress<BackfillJob>
    {
        public void Report(BackfillJob value) => time.Advance(step);
    }

    /// <summary>Every log line with the fake clock's time when it was written.</summary>
    private sealed class TimedLines(TimeProvider time) : ILoggerProvider
    {
        private readonly List<(DateTimeOffset At, string Message)> _entries = [];

        public IReadOnlyList<(DateTimeOffset At, string Message)> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(TimedLines owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner._entries)
                {
                    owner._entries.Add((owner.Time.GetUtcNow(), formatter(state, exception)));
                }
            }
        }

        private TimeProvider Time => time;
    }
}
