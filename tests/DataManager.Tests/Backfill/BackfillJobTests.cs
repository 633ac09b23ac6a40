using System.Net;
using System.Net.Http.Json;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Tests.Auditing;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Backfill;

/// <summary>Backfill jobs end to end: real MariaDB, the fake Binance on loopback, the SQLite store.</summary>
public sealed class BackfillJobTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-backfill");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Rig(SqlCandleStore Candles, SqliteStore Store, BackfillRunner Runner, BackfillOptions Options, ServiceProvider Services);

    private async Task<Rig> RigAsync(FakeBinance fake, BackfillOptions? options = null)
    {
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var store = await StoreAsync(Guid.NewGuid().ToString("N"));
        options ??= new BackfillOptions();
        options.BinanceBaseUrl = fake.Url;
        var services = BackfillServices.Build(options, store, candles);
        return new Rig(candles, store, services.GetRequiredService<BackfillRunner>(), options, services);
    }

    private static async Task<BackfillJob> NewJobAsync(SqliteStore store, DateTimeOffset from, DateTimeOffset to)
    {
        var job = BackfillJobs.New(new SeriesKey("BTCUSDT", M1), from, to, "manual", DateTimeOffset.UtcNow);
        await store.CreateAsync(job, Ct);
        return job;
    }

    private static async Task<long> RowsAsync(SqlCandleStore candles, DateTimeOffset from, DateTimeOffset to) =>
        (await candles.SummarizeAsync(new SeriesKey("BTCUSDT", M1), from.UtcDateTime, to.UtcDateTime, Ct)).Value.Rows;

    [Fact]
    public async Task The_leaders_poll_prunes_ended_jobs_past_retention_and_keeps_the_rest()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake, new BackfillOptions { RetentionDays = 30 });
        var series = new SeriesKey("BTCUSDT", M1);
        var old = BackfillJobs.New(series, Start, Start.AddHours(1), "auto", DateTimeOffset.UtcNow.AddDays(-31)) with { State = BackfillJobState.Completed };
        var recent = BackfillJobs.New(series, Start, Start.AddHours(1), "auto", DateTimeOffset.UtcNow.AddDays(-29)) with { State = BackfillJobState.Failed };
        var stuck = BackfillJobs.New(series, Start, Start.AddHours(1), "manual", DateTimeOffset.UtcNow.AddDays(-40)) with { State = BackfillJobState.Cancelled };
        foreach (var job in new[] { old, recent, stuck })
        {
            await rig.Store.CreateAsync(job, Ct);
        }

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(1, Ct), Ct);

        Assert.Equal([recent.Id], (await rig.Store.ListAsync(null, 10, Ct)).Select(j => j.Id));
        Assert.Equal(1, (await rig.Store.CountByStateAsync(Ct))[BackfillJobState.Failed]);
    }

    [Fact]
    public async Task A_job_writes_every_candle_once_and_running_it_again_writes_nothing()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var end = Start.AddMinutes(1200);

        var done = await rig.Runner.RunJobAsync(await NewJobAsync(rig.Store, Start, end), 1, Ct);
        Assert.Equal(BackfillJobState.Completed, done.State);
        Assert.Equal((1200L, 1200L, 1200L), (done.ExpectedCandles, done.FetchedCandles, done.WrittenCandles));
        Assert.Equal(end, done.Cursor);
        Assert.StartsWith("0 gaps, 1200 of 1200 candles", done.Verification, StringComparison.Ordinal);
        Assert.Equal(1200, await RowsAsync(rig.Candles, Start, end));
        var row = (await rig.Candles.ReadLatestAsync(new SeriesKey("BTCUSDT", M1), 1, Start.UtcDateTime.AddMinutes(1), Ct)).Value.Single();
        Assert.Equal(FakeBinance.PriceAt(Start.ToUnixTimeMilliseconds()), row.Open);
        Assert.Equal(("data-manager-backfill", BinanceClient.ExtractorVersion), (row.Source, row.ExtractorVersion));

        var again = await rig.Runner.RunJobAsync(await NewJobAsync(rig.Store, Start, end), 1, Ct);
        Assert.Equal((1200L, 0L), (again.FetchedCandles, again.WrittenCandles));
        Assert.Equal(1200, await RowsAsync(rig.Candles, Start, end));
        Assert.Equal(6, fake.Requests); // 3 pages of 499 each time
    }

    [Fact]
    public async Task A_cancelled_job_stops_at_the_next_page()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var job = await NewJobAsync(rig.Store, Start, Start.AddMinutes(2000));
        var progress = new SyncProgress(async j =>
        {
            if (j.FetchedCandles == 499)
            {
                Assert.True(await rig.Store.TryUpdateAsync(j with { State = BackfillJobState.Cancelled }, j.Version, Ct));
            }
        });
        var result = await rig.Runner.RunJobAsync(job, 1, Ct, progress);
        Assert.Equal(BackfillJobState.Cancelled, result.State);
        Assert.Equal(499, await RowsAsync(rig.Candles, Start, Start.AddMinutes(2000)));
    }

    [Fact]
    public async Task A_job_left_running_by_an_older_term_resumes_from_its_cursor()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var end = Start.AddMinutes(1500);
        // As if the leader of term 1 was killed after committing its first page.
        var first = (await rig.Candles.InsertIgnoreAsync(M1, await rig.Services.GetRequiredService<BinanceClient>().GetKlinesAsync("BTCUSDT", M1, BinanceWeights.Plan(Start, end, M1.Interval).First(), Ct), Ct));
        var job = await NewJobAsync(rig.Store, Start, end);
        Assert.True(await rig.Store.TryUpdateAsync(job with { State = BackfillJobState.Running, Term = 1, Cursor = Start.AddMinutes(499), FetchedCandles = 499, WrittenCandles = first }, 0, Ct));

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(2, Ct), Ct);
        var resumed = await rig.Store.GetAsync(job.Id, Ct);
        Assert.Equal(BackfillJobState.Completed, resumed!.State);
        Assert.Equal((2L, 1500L, 1500L), (resumed.Term, resumed.FetchedCandles, resumed.WrittenCandles));
        Assert.Equal(1500, await RowsAsync(rig.Candles, Start, end));
        Assert.Equal(1 + 3, fake.Requests); // the first page once, then the remaining 1001 candles in 3 pages
    }

    [Fact]
    public async Task A_seeded_gap_is_found_turned_into_a_job_filled_and_gone_at_the_next_audit()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake, new BackfillOptions { AutoBackfill = true, MinAutoBackfillGap = TimeSpan.FromSeconds(3600), MaxAutoBackfillJobs = 5 });
        // Six hours of 1m with a 2-hour gap (auto) and a 10-minute gap (under the threshold).
        var now = Start.AddHours(6);
        var all = Enumerable.Range(0, 360).Select(i => Start.AddMinutes(i)).ToList();
        var kept = all.Where(t => !(t >= Start.AddHours(1) && t < Start.AddHours(3)) && !(t >= Start.AddHours(4) && t < Start.AddHours(4).AddMinutes(10)));
        await rig.Candles.InsertIgnoreAsync(M1, [.. kept.Select(t => DemoCandles.Make("BTCUSDT", M1, t.UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1))], Ct);
        var clock = new FakeTimeProvider(now);
        var scheduler = Scheduler(rig, now, clock);

        var first = await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal(2, first.Gaps);
        var job = Assert.Single(await rig.Store.ListAsync(null, 10, Ct));
        Assert.Equal(("auto", Start.AddHours(1), Start.AddHours(3)), (job.Trigger, job.From, job.To));

        await scheduler.RunCycleAsync(1, Ct); // the same gap again: an overlapping job exists, no second one
        Assert.Single(await rig.Store.ListAsync(null, 10, Ct));

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(1, Ct), Ct);
        var done = await rig.Store.GetAsync(job.Id, Ct);
        Assert.Equal((BackfillJobState.Completed, 120L), (done!.State, done.WrittenCandles));
        Assert.StartsWith("0 gaps", done.Verification, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromSeconds(1)); // the next audit is newer: "latest" is by time (then id), not by insertion
        var after = await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal(1, after.Gaps); // only the 10-minute gap is left
        var audit = (await rig.Store.LatestPerSeriesAsync(Ct)).Single();
        Assert.Equal(Start.AddHours(4), Assert.Single(audit.Gaps).From);

        await using var host = await ApiHostAsync(rig.Store);
        var jobs = await host.Client.GetFromJsonAsync<List<BackfillJob>>("/backfill/jobs?state=completed", StoreJson.Options, Ct);
        Assert.Equal(done.Verification, Assert.Single(jobs!).Verification);
    }

    [Fact]
    public async Task Auto_jobs_respect_the_cap_and_a_confirmed_empty_range_never_retriggers()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake, new BackfillOptions { AutoBackfill = true, MinAutoBackfillGap = TimeSpan.FromSeconds(3600), MaxAutoBackfillJobs = 2 });
        var now = Start.AddHours(12);
        // Gaps of 2 h at 01:00, 04:00 and 07:00; the exchange itself has nothing for 01:00–03:00.
        bool Missing(DateTimeOffset t) => (t.Hour is 1 or 2 or 4 or 5 or 7 or 8) && t < now;
        await rig.Candles.InsertIgnoreAsync(M1, [.. Enumerable.Range(0, 720).Select(i => Start.AddMinutes(i)).Where(t => !Missing(t)).Select(t => DemoCandles.Make("BTCUSDT", M1, t.UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1))], Ct);
        fake.Outages.Add((Start.AddHours(1).UtcDateTime, Start.AddHours(3).UtcDateTime));
        var clock = new FakeTimeProvider(now);
        var scheduler = Scheduler(rig, now, clock);

        await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal(2, (await rig.Store.ListAsync(BackfillJobState.Pending, 10, Ct)).Count); // the cap

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(1, Ct), Ct);
        var outage = (await rig.Store.ListAsync(BackfillJobState.Completed, 10, Ct)).Single(j => j.From == Start.AddHours(1));
        Assert.Equal(0, outage.WrittenCandles);
        Assert.Equal([new EmptyRange(Start.AddHours(1), Start.AddHours(3))], outage.ConfirmedEmpty);

        clock.Advance(TimeSpan.FromSeconds(1)); // the next audit is newer: "latest" is by time (then id), not by insertion
        await scheduler.RunCycleAsync(1, Ct); // now the third gap gets its job; the outage does not come back
        var all = await rig.Store.ListAsync(null, 10, Ct);
        Assert.Equal(3, all.Count);
        Assert.Single(all, j => j.From == Start.AddHours(1));
        // 01:00 is reported sourceEmpty; 04:00 was filled; 07:00's job has only just been created.
        var audit = (await rig.Store.LatestPerSeriesAsync(Ct)).Single();
        Assert.Equal([(Start.AddHours(1), true), (Start.AddHours(7), false)], audit.Gaps.Select(g => (g.From, g.SourceEmpty)).ToArray());
    }

    [Fact]
    public async Task The_backfill_verb_runs_one_job_in_the_foreground()
    {
        await using var fake = await FakeBinance.StartAsync();
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MYSQL_URI"] = MariaDbServer.ToUri(((MySqlCandleDialect)candles.Dialect).ConnectionString),
            ["BINANCE_FAPI_BASE_URL"] = fake.Url.ToString(),
            ["DATA_DIR"] = Path.Combine(_directory, "cli"),
        }).Build();
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var code = await DataManager.Cli.BackfillCommand.RunAsync(["--symbol", "btcusdt", "--timeframe", "1m", "--from", "2026-11-22T00:00:00Z", "--to", "2026-11-22T20:00:00Z"], configuration, output, errors, Ct);
        Assert.True(code == 0, output.ToString() + errors);
        Assert.Contains("completed: 1200 written of 1200 fetched; 0 gaps", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("] 100% 1,200/1,200 fetched", errors.ToString(), StringComparison.Ordinal);
        Assert.Equal(1200, await RowsAsync(candles, Start, Start.AddHours(20)));

        Assert.Equal(2, await DataManager.Cli.BackfillCommand.RunAsync(["--symbol", "btcusdt", "--timeframe", "7m"], configuration, output, errors, Ct));
    }

    [Fact]
    public async Task The_jobs_api_validates_accepts_lists_cancels_and_refuses()
    {
        var store = await StoreAsync("api");
        await using var host = await ApiHostAsync(store);
        using (var bad = await host.Client.PostAsJsonAsync("/backfill/jobs", new { symbol = "btc-usdt", timeframe = "7m", from = Start, to = Start.AddDays(-1) }, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var body = await bad.Content.ReadAsStringAsync(Ct);
            Assert.Contains("\"symbol\"", body, StringComparison.Ordinal);
            Assert.Contains("\"timeframe\"", body, StringComparison.Ordinal);
            Assert.Contains("\"to\"", body, StringComparison.Ordinal);
        }

        using var created = await host.Client.PostAsJsonAsync("/backfill/jobs", new { symbol = "BTCUSDT", timeframe = "1m", from = Start, to = Start.AddHours(1) }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var job = await created.Content.ReadFromJsonAsync<BackfillJob>(StoreJson.Options, Ct);
        Assert.Equal((BackfillJobState.Pending, 60L, "manual"), (job!.State, job.ExpectedCandles, job.Trigger));
        Assert.Equal($"/backfill/jobs/{job.Id}", created.Headers.Location?.ToString());

        Assert.Single((await host.Client.GetFromJsonAsync<List<BackfillJob>>("/backfill/jobs?state=pending", StoreJson.Options, Ct))!);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Client.GetAsync("/backfill/jobs?state=sleeping", Ct)).StatusCode);
        using (var cancel = await host.Client.DeleteAsync($"/backfill/jobs/{job.Id}", Ct))
        {
            Assert.Equal(BackfillJobState.Cancelled, (await cancel.Content.ReadFromJsonAsync<BackfillJob>(StoreJson.Options, Ct))!.State);
        }

        Assert.Equal(HttpStatusCode.Conflict, (await host.Client.DeleteAsync($"/backfill/jobs/{job.Id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync("/backfill/jobs/nope", Ct)).StatusCode);
    }

    /// <summary>The audit window is the span the test seeded (a longer one would rightly find a head gap before it).</summary>
    private static AuditScheduler Scheduler(Rig rig, DateTimeOffset now, FakeTimeProvider? clock = null) =>
        AuditSchedulerTests.Scheduler(rig.Candles, rig.Store, clock ?? new FakeTimeProvider(now),
            new SeriesOptions { SupportedPairs = ["BTCUSDT"], PairsConfigured = true, SupportedTimeframes = [M1] },
            new CandleDatabaseOptions { MySqlConnectionString = "unused" },
            new AuditOptions { Window = now - Start }, rig.Options);

    /// <summary>The store file the way the service names it, so a host on the same DATA_DIR shares it.</summary>
    private async Task<SqliteStore> StoreAsync(string name)
    {
        var directory = Path.Combine(_directory, name);
        Directory.CreateDirectory(directory);
        var store = new SqliteStore(Path.Combine(directory, "datamanager.db"));
        await store.InitializeAsync(Ct);
        return store;
    }

    /// <summary>The real service on the same DATA_DIR: any replica accepts jobs and serves them from the shared store.</summary>
    private static Task<ServiceHost> ApiHostAsync(SqliteStore store) => ServiceHost.StartAsync(new Dictionary<string, string?>
    {
        ["DATA_DIR"] = Path.GetDirectoryName(store.Path),
        ["ENABLE_AUDITOR"] = "false",
        ["ENABLE_ANALYTICS"] = "false",
    });

    private sealed class SyncProgress(Func<BackfillJob, Task> report) : IProgress<BackfillJob>
    {
        public void Report(BackfillJob value) => report(value).GetAwaiter().GetResult();
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
