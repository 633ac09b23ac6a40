using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Auditing;

public sealed class DuplicateResolutionTests
{
    private static readonly DateTime Open = new(2026, 11, 22, 11, 0, 0, DateTimeKind.Utc);

    private static Candle Row(string id, int extractedMinute) =>
        DemoCandles.Make("BTCUSDT", Timeframe.Parse("1h"), Open, 1m, 2m, 0.5m, 1.5m, 1m, 1) with { Id = id, ExtractedAt = Open.AddMinutes(extractedMinute) };

    [Fact]
    public void Keep_newest_keeps_the_latest_extracted_at_then_the_largest_id()
    {
        var plan = Assert.Single(DuplicateResolution.Plan([Row("a", 5), Row("b", 9), Row("c", 9)], DuplicateResolutionStrategy.KeepNewest));
        Assert.Equal("c", plan.Keep.Id);
        Assert.Equal(["b", "a"], plan.Remove.Select(r => r.Id).ToArray());
    }

    [Fact]
    public void Keep_oldest_keeps_the_earliest_extracted_at_then_the_smallest_id()
    {
        var plan = Assert.Single(DuplicateResolution.Plan([Row("b", 5), Row("a", 5), Row("c", 1)], DuplicateResolutionStrategy.KeepOldest));
        Assert.Equal("c", plan.Keep.Id);
    }

    [Fact]
    public void Manual_removes_nothing_and_single_rows_are_never_touched()
    {
        Assert.Empty(DuplicateResolution.Plan([Row("a", 1), Row("b", 2)], DuplicateResolutionStrategy.Manual));
        Assert.Empty(DuplicateResolution.Plan([Row("a", 1)], DuplicateResolutionStrategy.KeepNewest));
    }
}

/// <summary>Removal end to end on a real database, through the scheduler.</summary>
public abstract class DuplicateRemovalContractTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 0, 5, 0, TimeSpan.Zero);
    private static readonly Timeframe H1 = Timeframe.Parse("1h");
    private static readonly DateTime Day = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-dedupe");
    private readonly FakeTimeProvider _time = new(Now);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract Task<SqlCandleStore> CreateAsync(params Timeframe[] tables);

    private async Task<(SqlCandleStore Candles, SqliteTestStore Store, AuditLoop Scheduler)> SeededAsync(DuplicateResolutionStrategy strategy, bool enabled = true)
    {
        var candles = await CreateAsync(H1);
        var rows = Enumerable.Range(0, 24).Select(i => DemoCandles.Make("BTCUSDT", H1, Day.AddHours(i), 1m, 2m, 0.5m, 1.5m, 1m, 1)).ToList();
        rows.Add(rows[11] with { Id = "legacy-11-a", ExtractedAt = Day.AddHours(13), Close = 1.25m });
        rows.Add(rows[11] with { Id = "legacy-11-b", ExtractedAt = Day.AddHours(10) });
        rows.Add(rows[20] with { Id = "legacy-20", ExtractedAt = Day.AddHours(22), Open = 97000.12345678m, High = 97001m });
        await candles.InsertIgnoreAsync(H1, rows, Ct);
        var store = new SqliteTestStore(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"));
        await store.InitializeAsync(Ct);
        var scheduler = AuditLoopTests.Scheduler(candles, store, _time,
            new SeriesOptions { SupportedPairs = ["BTCUSDT"], PairsConfigured = true, SupportedTimeframes = [H1] },
            new CandleDatabaseOptions { MySqlConnectionString = "unused" },
            new AuditOptions { DuplicateRemoval = enabled, Strategy = strategy });
        return (candles, store, scheduler);
    }

    private static async Task<string[]> IdsAtAsync(SqlCandleStore candles, int hour) =>
        [.. (await candles.RowsAtAsync(new SeriesKey("BTCUSDT", H1), [Day.AddHours(hour)], Ct)).Value.Select(c => c.Id).Order()];

    [Fact]
    public async Task Keep_newest_archives_then_deletes_and_the_next_audit_is_clean()
    {
        var (candles, store, scheduler) = await SeededAsync(DuplicateResolutionStrategy.KeepNewest);
        var first = await scheduler.RunCycleAsync(3, Ct);
        Assert.Equal(3, first.DuplicateSurplus);
        Assert.Equal(3, (await store.LatestPerSeriesAsync(Ct))[0].DuplicatesRemoved);

        Assert.Equal(["legacy-11-a"], await IdsAtAsync(candles, 11));
        Assert.Equal(["legacy-20"], await IdsAtAsync(candles, 20));
        var archived = await store.ListAsync("BTCUSDT", "1h", Ct);
        Assert.Equal(3, archived.Count);
        Assert.All(archived, a => Assert.Equal((3L, "keep_newest"), (a.Term, a.Reason)));
        Assert.Contains(archived, a => a.Row.Id == "legacy-11-b" && a.Row.Close == 1.5m);

        _time.Advance(TimeSpan.FromMinutes(5));
        var second = await scheduler.RunCycleAsync(3, Ct);
        Assert.Equal(0, second.DuplicateSurplus);
        var clean = (await store.LatestPerSeriesAsync(Ct))[0];
        Assert.Equal((23, 23, 0), (clean.ExpectedCandles, clean.ActualCandles, clean.Duplicates.Count)); // the window starts at 00:05
    }

    [Fact]
    public async Task Keep_oldest_keeps_the_first_written_row()
    {
        var (candles, _, scheduler) = await SeededAsync(DuplicateResolutionStrategy.KeepOldest);
        await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal(["legacy-11-b"], await IdsAtAsync(candles, 11));
        Assert.Equal([Candle.ConventionalId("BTCUSDT", Day.AddHours(20))], await IdsAtAsync(candles, 20));
    }

    [Theory]
    [InlineData(DuplicateResolutionStrategy.Manual, true)]
    [InlineData(DuplicateResolutionStrategy.KeepNewest, false)]
    public async Task Manual_or_disabled_only_detects(DuplicateResolutionStrategy strategy, bool enabled)
    {
        var (candles, store, scheduler) = await SeededAsync(strategy, enabled);
        await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal(3, (await IdsAtAsync(candles, 11)).Length);
        Assert.Empty(await store.ListAsync("BTCUSDT", "1h", Ct));
    }

    [Fact]
    public async Task A_failed_recheck_rolls_back_every_deletion()
    {
        var (candles, _, _) = await SeededAsync(DuplicateResolutionStrategy.KeepNewest);
        var series = new SeriesKey("BTCUSDT", H1);
        // The first removal is right; the second leaves two rows (as if the extractor wrote another meanwhile).
        var removals = new List<(DateTime, string, IReadOnlyList<string>)>
        {
            (Day.AddHours(20), "legacy-20", [Candle.ConventionalId("BTCUSDT", Day.AddHours(20))]),
            (Day.AddHours(11), "legacy-11-a", ["legacy-11-b"]),
        };
        var aborted = await Assert.ThrowsAsync<DuplicateRemovalAbortedException>(() => candles.RemoveDuplicatesAsync(series, removals, Ct));
        Assert.Contains("nothing was deleted", aborted.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await IdsAtAsync(candles, 20)).Length);
        Assert.Equal(3, (await IdsAtAsync(candles, 11)).Length);
        await Assert.ThrowsAsync<ArgumentException>(() => candles.RemoveDuplicatesAsync(series, [(Day.AddHours(20), "legacy-20", ["legacy-20"])], Ct));
    }

    [Fact]
    public async Task Removals_rolled_back_by_concurrent_inserts_archive_each_row_once()
    {
        var (candles, store, _) = await SeededAsync(DuplicateResolutionStrategy.KeepNewest);
        var series = new SeriesKey("BTCUSDT", H1);
        var remover = new DuplicateRemover(candles, new RacingWriter(candles, series, Day.AddHours(11)), store,
            Microsoft.Extensions.Options.Options.Create(new AuditOptions { DuplicateRemoval = true, Strategy = DuplicateResolutionStrategy.KeepNewest }),
            new AuditMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry())), _time, Microsoft.Extensions.Logging.Abstractions.NullLogger<DuplicateRemover>.Instance);
        DuplicateFinding[] duplicates = [new(Day.AddHours(11), 3), new(Day.AddHours(20), 2)];
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var aborted = await Assert.ThrowsAsync<DuplicateRemovalAbortedException>(() => remover.RemoveAsync(series, duplicates, 1, Ct));
            Assert.True(aborted.Message.Length < 300, aborted.Message);
        }

        var archived = await store.ListAsync("BTCUSDT", "1h", Ct);
        Assert.Equal(archived.Count, archived.Select(a => a.Row.Id).Distinct().Count());
        Assert.Single(archived, a => a.Row.Id == "legacy-11-b");
    }

    /// <summary>The extractor writes one more row at an open time just before each removal (a real insert on the real database).</summary>
    private sealed class RacingWriter(SqlCandleStore candles, SeriesKey series, DateTime openTime) : ICandleWriter
    {
        private int _inserted;

        public Task<int> InsertIgnoreAsync(Timeframe timeframe, IReadOnlyList<Candle> rows, CancellationToken cancellationToken) =>
            candles.InsertIgnoreAsync(timeframe, rows, cancellationToken);

        public Task<int> InsertMissingAsync(SeriesKey key, IReadOnlyList<Candle> rows, CancellationToken cancellationToken) =>
            candles.InsertMissingAsync(key, rows, cancellationToken);

        public async Task<int> RemoveDuplicatesAsync(SeriesKey key, IReadOnlyList<(DateTime OpenTime, string KeepId, IReadOnlyList<string> RemoveIds)> removals, CancellationToken cancellationToken)
        {
            var row = DemoCandles.Make(series.Symbol, series.Timeframe, openTime, 1m, 2m, 0.5m, 1.5m, 1m, 1) with { Id = $"racing-{++_inserted}", ExtractedAt = openTime };
            await candles.InsertIgnoreAsync(series.Timeframe, [row], cancellationToken);
            return await candles.RemoveDuplicatesAsync(key, removals, cancellationToken);
        }
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}

[Trait("Category", "Server")]
public sealed class MariaDbDuplicateRemovalTests(MariaDbServer server) : DuplicateRemovalContractTests
{
    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables) => CandleDatabases.MariaDbAsync(server, tables);
}

public sealed class SqliteDuplicateRemovalTests : DuplicateRemovalContractTests
{
    private readonly string _candles = ServerAvailability.TempDirectory("dm-dedupe-candles");

    protected override Task<SqlCandleStore> CreateAsync(params Timeframe[] tables) => CandleDatabases.SqliteAsync(_candles, tables);
}
