using System.Globalization;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Backfill;

/// <summary>
/// The kill -9 drill: the real service process runs one job against real MariaDB and the fake Binance on
/// loopback; it is killed three times at different points of the job and restarted each time under the same
/// POD_NAME. Every candle ends up exactly once and no row that existed before is touched.
/// </summary>
[Trait("Category", "Server")]
public sealed class BackfillKillDrillTests(MariaDbServer mariaDb) : IDisposable
{
    private const string Pod = "data-manager-0";
    private const int Pages = 24;
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-backfill-kill");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Three_kill_9s_mid_job_each_resumed_from_the_cursor_leave_every_candle_exactly_once(bool election)
    {
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var series = new SeriesKey("BTCUSDT", M1);
        var end = Start.AddMinutes(Pages * 499);
        // Rows the extractor wrote before, under an id format of their own, scattered through the range.
        var seeded = Enumerable.Range(0, Pages * 499 / 40)
            .Select(i => DemoCandles.Make("BTCUSDT", M1, Start.UtcDateTime.AddMinutes(i * 40), 1m, 2m, 0.5m, 1.5m, 1m, 1) with { Id = $"legacy-{i}" })
            .ToList();
        await candles.InsertIgnoreAsync(M1, seeded, Ct);

        await using var fake = await FakeBinance.StartAsync();
        fake.LatencyMs = 120; // one page at a time: the job lasts long enough to be killed three times
        var store = new SqliteTestStore(Path.Combine(_directory, "datamanager.db"));
        await store.InitializeAsync(Ct);
        var job = BackfillJobs.New(series, Start, end, BackfillTriggers.Manual, DateTimeOffset.UtcNow);
        await store.CreateAsync(job, Ct);

        var port = LocalServers.FreePort();
        LocalProcess StartService() => ServiceExecutable.Start(new Dictionary<string, string?>
        {
            ["DATA_DIR"] = _directory,
            ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["POD_NAME"] = Pod,
            ["MYSQL_URI"] = MariaDbServer.ToUri(((MySqlCandleDialect)candles.Dialect).ConnectionString),
            ["SUPPORTED_PAIRS"] = "BTCUSDT",
            ["SUPPORTED_TIMEFRAMES"] = "1m",
            ["ENABLE_AUDITOR"] = "false",
            ["ENABLE_ANALYTICS"] = "false",
            ["ENABLE_BACKFILLER"] = "true",
            ["BINANCE_FAPI_BASE_URL"] = fake.Url.ToString(),
            ["BACKFILL_POLL_INTERVAL"] = "0.2",
            ["BACKFILL_PREFETCH"] = "1",
            ["ENABLE_LEADER_ELECTION"] = election ? "true" : "false",
            ["LEADER_ELECTION_HEARTBEAT_INTERVAL"] = "0.5",
            ["LEADER_ELECTION_RENEW_DEADLINE"] = "2",
            ["LEADER_ELECTION_TIMEOUT"] = "3",
            ["LOG_LEVEL"] = "info",
        });

        var service = StartService();
        var log = new List<string>();
        try
        {
            // Kill points: early, middle and late in the job, wherever the process is (fetching or writing).
            foreach (var fetched in new[] { 2 * 499, 9 * 499, 17 * 499 })
            {
                var running = await WaitForAsync(store, job.Id, j => j.FetchedCandles >= fetched, service, $"{fetched} candles fetched");
                service.Signal("KILL");
                await service.WaitForExitAsync(TimeSpan.FromSeconds(10));
                var atKill = (await store.GetAsync(job.Id, Ct))!;
                log.Add($"killed at cursor {atKill.Cursor:O}, {atKill.FetchedCandles} fetched, incarnation {running.OwnerIncarnation}");
                await service.DisposeAsync();

                service = StartService();
                var resumed = await WaitForAsync(store, job.Id, j => j.OwnerIncarnation != atKill.OwnerIncarnation && j.Cursor > atKill.Cursor, service, "the restarted process to resume");
                Assert.Equal(Pod, resumed.Owner);
            }

            var done = await WaitForAsync(store, job.Id, j => j.State is BackfillJobState.Completed or BackfillJobState.Failed, service, "the job to end");
            Assert.True(done.State == BackfillJobState.Completed, done.LastError + "\n" + string.Join("\n", log));
            // The first run and three takeovers; with election on, a term lost to a renewal late under load is one more claim.
            Assert.True(election ? done.Attempts >= 4 : done.Attempts == 4, $"{done.Attempts} attempts");
            Assert.Equal(end, done.Cursor);
            Assert.StartsWith($"0 gaps, {Pages * 499} of {Pages * 499} candles", done.Verification, StringComparison.Ordinal);
        }
        finally
        {
            await service.DisposeAsync();
        }

        var summary = (await candles.SummarizeAsync(series, Start.UtcDateTime, end.UtcDateTime, Ct)).Value;
        Assert.Equal((Pages * 499L, Pages * 499L), (summary.Rows, summary.DistinctOpenTimes));
        var after = (await candles.RowsAtAsync(series, [.. seeded.Select(c => c.Timestamp)], Ct)).Value;
        Assert.Equal(seeded.OrderBy(c => c.Timestamp), after.OrderBy(c => c.Timestamp));
    }

    private static async Task<BackfillJob> WaitForAsync(SqliteTestStore store, string id, Func<BackfillJob, bool> condition, LocalProcess service, string what)
    {
        BackfillJob? last = null;
        return await Eventually.UntilValueAsync(what, async token => (last = await store.GetAsync(id, token)) is { } job && condition(job) ? job : null,
            TimeSpan.FromMinutes(3), seen: () => $"{StoreJsonText(last)}\n{service.Output}",
            abandonIf: () => service.HasExited ? "the service exited" : null, cancellationToken: Ct);
    }

    private static string StoreJsonText(BackfillJob? job) => job is null ? "(no job)" : DataManager.Storage.StoreJson.Serialize(job);

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
