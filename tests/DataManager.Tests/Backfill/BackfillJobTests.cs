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
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Backfill;

/// <summary>Backfill jobs end to end: real MariaDB, the fake Binance on loopback, the SQLite store.</summary>
[Trait("Category", "Server")]
public sealed class BackfillJobTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-backfill");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Rig(SqlCandleStore Candles, SqliteTestStore Store, BackfillRunner Runner, BackfillOptions Options, ServiceProvider Services);

    private async Task<Rig> RigAsync(FakeBinance fake, BackfillOptions? options = null)
    {
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var store = await StoreAsync(Guid.NewGuid().ToString("N"));
        options ??= new BackfillOptions();
        options.BinanceBaseUrl = fake.Url;
        var services = BackfillServices.Build(options, store, candles);
        return new Rig(candles, store, services.GetRequiredService<BackfillRunner>(), options, services);
    }

    private static async Task<BackfillJob> NewJobAsync(SqliteTestStore store, DateTimeOffset from, DateTimeOffset to)
    {
        var job = BackfillJobs.New(new SeriesKey("BTCUSDT", M1), from, to, BackfillTriggers.Manual, DateTimeOffset.UtcNow);
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
        var old = BackfillJobs.New(series, Start, Start.AddHours(1), BackfillTriggers.Auto, DateTimeOffset.UtcNow.AddDays(-31)) with { State = BackfillJobState.Completed };
        var recent = BackfillJobs.New(series, Start, Start.AddHours(1), BackfillTriggers.Auto, DateTimeOffset.UtcNow.AddDays(-29)) with { State = BackfillJobState.Failed };
        var stuck = BackfillJobs.New(series, Start, Start.AddHours(1), BackfillTriggers.Manual, DateTimeOffset.UtcNow.AddDays(-40)) with { State = BackfillJobState.Cancelled };
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
        long? writtenAtCancel = null;
        var progress = new SyncProgress(async j =>
        {
            if (writtenAtCancel is null)
            {
                writtenAtCancel = j.WrittenCandles; // the first write: one page, or the few fetched by then
                Assert.True(await rig.Store.TryUpdateAsync(j with { State = BackfillJobState.Cancelled }, j.Version, Ct));
            }
        });
        var result = await rig.Runner.RunJobAsync(job, 1, Ct, progress);
        Assert.Equal(BackfillJobState.Cancelled, result.State);
        Assert.InRange(writtenAtCancel!.Value, 499, 1996);
        Assert.Equal(writtenAtCancel, await RowsAsync(rig.Candles, Start, Start.AddMinutes(2000)));
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
        var auditLoop = AuditLoop(rig, now, clock);
        var autoBackfill = AutoBackfill(rig, clock);

        var first = await auditLoop.RunCycleAsync(1, Ct);
        Assert.Equal(2, first.Gaps);
        Assert.Empty(await rig.Store.ListAsync(null, 10, Ct)); // the audit only reports; the auto-backfill loop asks
        var job = Assert.Single(await autoBackfill.PlanNewestCycleAsync(1, Ct));
        Assert.Equal(job.Id, Assert.Single(await rig.Store.ListAsync(null, 10, Ct)).Id);
        Assert.Equal((BackfillTriggers.Auto, Start.AddHours(1), Start.AddHours(3), 1L), (job.Trigger, job.From, job.To, job.Term));
        Assert.Empty(await autoBackfill.PlanNewestCycleAsync(1, Ct)); // a cycle is planned once

        await auditLoop.RunCycleAsync(1, Ct); // the same gap again: an overlapping job exists, no second one
        Assert.Empty(await autoBackfill.PlanNewestCycleAsync(1, Ct));
        Assert.Single(await rig.Store.ListAsync(null, 10, Ct));

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(1, Ct), Ct);
        var done = await rig.Store.GetAsync(job.Id, Ct);
        Assert.Equal((BackfillJobState.Completed, 120L), (done!.State, done.WrittenCandles));
        Assert.StartsWith("0 gaps", done.Verification, StringComparison.Ordinal);
        // A new leader plans the newest cycle again: the job made for it has completed since, so it asks for nothing.
        Assert.Empty(await AutoBackfill(rig, clock).PlanNewestCycleAsync(2, Ct));

        clock.Advance(TimeSpan.FromSeconds(1)); // the next audit is newer: "latest" is by time (then id), not by insertion
        var after = await auditLoop.RunCycleAsync(1, Ct);
        Assert.Empty(await autoBackfill.PlanNewestCycleAsync(1, Ct)); // the 10-minute gap is under MIN_AUTO_BACKFILL_GAP
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
        var auditLoop = AuditLoop(rig, now, clock);
        var autoBackfill = AutoBackfill(rig, clock);

        await auditLoop.RunCycleAsync(1, Ct);
        await autoBackfill.PlanNewestCycleAsync(1, Ct);
        Assert.Equal(2, (await rig.Store.ListAsync(BackfillJobState.Pending, 10, Ct)).Count); // the cap

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(1, Ct), Ct);
        var outage = (await rig.Store.ListAsync(BackfillJobState.Completed, 10, Ct)).Single(j => j.From == Start.AddHours(1));
        Assert.Equal(0, outage.WrittenCandles);
        Assert.Equal([new EmptyRange(Start.AddHours(1), Start.AddHours(3))], outage.ConfirmedEmpty);

        clock.Advance(TimeSpan.FromSeconds(1)); // the next audit is newer: "latest" is by time (then id), not by insertion
        await auditLoop.RunCycleAsync(1, Ct);
        await autoBackfill.PlanNewestCycleAsync(1, Ct); // now the third gap gets its job; the outage does not come back
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
        Assert.Equal((BackfillJobState.Pending, 60L, BackfillTriggers.Manual), (job!.State, job.ExpectedCandles, job.Trigger));
        Assert.Equal($"/backfill/jobs/{job.Id}", created.Headers.Location?.ToString());

        Assert.Equal(job.Id, Assert.Single((await host.Client.GetFromJsonAsync<List<BackfillJob>>("/backfill/jobs", StoreJson.Options, Ct))!).Id);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Client.GetAsync("/backfill/jobs?state=sleeping", Ct)).StatusCode);
        using (var cancel = await host.Client.DeleteAsync($"/backfill/jobs/{job.Id}", Ct))
        {
            Assert.Equal(BackfillJobState.Cancelled, (await cancel.Content.ReadFromJsonAsync<BackfillJob>(StoreJson.Options, Ct))!.State);
        }

        Assert.Equal(HttpStatusCode.Conflict, (await host.Client.DeleteAsync($"/backfill/jobs/{job.Id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync("/backfill/jobs/nope", Ct)).StatusCode);
    }

    [Fact]
    public async Task A_job_logs_its_start_and_end_a_retry_as_one_warning_and_no_line_per_request()
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.Inject("500");
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var store = await StoreAsync("logs");
        var lines = new RecordingLoggerProvider();
        var options = new BackfillOptions { BinanceBaseUrl = fake.Url };
        await using var services = BackfillServices.Build(options, store, candles,
            logging: builder => builder.AddProvider(lines).SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information));

        var done = await services.GetRequiredService<BackfillRunner>().RunJobAsync(await NewJobAsync(store, Start, Start.AddMinutes(1200)), 1, Ct);
        Assert.Equal((BackfillJobState.Completed, 4 * 2L), (done.State, done.WeightUsed)); // three pages and one retry, weight 2 each
        var entries = lines.Entries;
        Assert.DoesNotContain(entries, e => e.Category.StartsWith("System.Net.Http", StringComparison.Ordinal) || e.Category.StartsWith("Polly", StringComparison.Ordinal));
        var retry = Assert.Single(entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Contains("retry 1", retry.Message, StringComparison.Ordinal);
        Assert.False(retry.HasException);
        var runner = entries.Where(e => e.Category == typeof(BackfillRunner).FullName).Select(e => e.Message).ToList();
        Assert.Equal(2, runner.Count);
        Assert.Contains("started", runner[0], StringComparison.Ordinal);
        Assert.Contains("completed: 1200 candles written of 1200 fetched, weight 8", runner[1], StringComparison.Ordinal);
    }

    private sealed class RecordingLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider
    {
        private readonly List<(string Category, Microsoft.Extensions.Logging.LogLevel Level, string Message, bool HasException)> _entries = [];

        public IReadOnlyList<(string Category, Microsoft.Extensions.Logging.LogLevel Level, string Message, bool HasException)> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(RecordingLoggerProvider provider, string category) : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (provider._entries)
                {
                    provider._entries.Add((category, logLevel, formatter(state, exception), exception is not null));
                }
            }
        }
    }

    [Fact]
    public async Task A_job_never_adds_a_row_at_an_open_time_held_under_another_id_and_never_touches_one()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var series = new SeriesKey("BTCUSDT", M1);
        var end = Start.AddMinutes(1200);
        // The extractor's rows under three id formats (older rows may differ), with prices of their own.
        Candle Seeded(int minute, string id) =>
            DemoCandles.Make("BTCUSDT", M1, Start.UtcDateTime.AddMinutes(minute), 1m, 2m, 0.5m, 1.5m, 1m, 1) with { Id = id };
        var seeded = Enumerable.Range(0, 100).Select(i => Seeded(i, Candle.ConventionalId("BTCUSDT", Start.UtcDateTime.AddMinutes(i))))
            .Concat(Enumerable.Range(500, 100).Select(i => Seeded(i, $"BTCUSDT-1m-{Start.AddMinutes(i):yyyyMMddHHmm}")))
            .Concat(Enumerable.Range(1000, 50).Select(i => Seeded(i, $"legacy:{i}")))
            .ToList();
        Assert.Equal(250, await rig.Candles.InsertIgnoreAsync(M1, seeded, Ct));

        var done = await rig.Runner.RunJobAsync(await NewJobAsync(rig.Store, Start, end), 1, Ct);
        Assert.Equal(BackfillJobState.Completed, done.State);
        Assert.Equal((1200L, 950L), (done.FetchedCandles, done.WrittenCandles));
        var summary = (await rig.Candles.SummarizeAsync(series, Start.UtcDateTime, end.UtcDateTime, Ct)).Value;
        Assert.Equal((1200L, 1200L), (summary.Rows, summary.DistinctOpenTimes)); // COUNT(*) = COUNT(DISTINCT timestamp)
        var after = (await rig.Candles.RowsAtAsync(series, [.. seeded.Select(c => c.Timestamp)], Ct)).Value;
        Assert.Equal(seeded.OrderBy(c => c.Timestamp), after.OrderBy(c => c.Timestamp)); // every column as it was
    }

    [Fact]
    public async Task A_job_left_running_by_another_incarnation_under_the_same_term_is_taken_over_within_one_poll()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var end = Start.AddMinutes(1500);
        // Election off (term 0 forever), and the process running the job was killed after its first page.
        var first = await rig.Candles.InsertMissingAsync(new SeriesKey("BTCUSDT", M1), await rig.Services.GetRequiredService<BinanceClient>().GetKlinesAsync("BTCUSDT", M1, BinanceWeights.Plan(Start, end, M1.Interval).First(), Ct), Ct);
        var job = await NewJobAsync(rig.Store, Start, end);
        Assert.True(await rig.Store.TryUpdateAsync(job with
        {
            State = BackfillJobState.Running, Term = 0, Owner = "test-pod", OwnerIncarnation = "killed", Attempts = 1,
            Cursor = Start.AddMinutes(499), FetchedCandles = 499, WrittenCandles = first,
        }, 0, Ct));

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(0, Ct), Ct);
        var resumed = await rig.Store.GetAsync(job.Id, Ct);
        Assert.Equal(BackfillJobState.Completed, resumed!.State);
        Assert.Equal((0L, 2, 1500L, 1500L), (resumed.Term, resumed.Attempts, resumed.FetchedCandles, resumed.WrittenCandles));
        Assert.NotEqual("killed", resumed.OwnerIncarnation);
        Assert.Equal(("test-pod", 1500L), (resumed.Owner, await RowsAsync(rig.Candles, Start, end)));
        Assert.Equal(1 + 3, fake.Requests); // resumed from the cursor: the first page is not asked for again
    }

    [Fact]
    public async Task A_range_reaching_past_the_last_closed_candle_is_never_confirmed_empty_nor_written_open()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var closedUntil = BackfillRunner.ClosedUntil(DateTimeOffset.UtcNow, M1);
        var from = closedUntil.AddMinutes(-10);
        // Not through the API (which clamps it): an auto job or an older client's job, 10 minutes past and 10 hours ahead.
        var done = await rig.Runner.RunJobAsync(await NewJobAsync(rig.Store, from, closedUntil.AddHours(10)), 1, Ct);
        Assert.Equal(BackfillJobState.Completed, done.State);
        Assert.Empty(done.ConfirmedEmpty); // the second page, all future, came back empty: that says nothing
        Assert.InRange(done.WrittenCandles, 10, 11); // the closed ones (one more if a minute turned meanwhile), never the open one
        var rows = await RowsAsync(rig.Candles, from, closedUntil.AddHours(10));
        Assert.Equal(done.WrittenCandles, rows);
        var newest = (await rig.Candles.ReadLatestAsync(new SeriesKey("BTCUSDT", M1), 1, closedUntil.UtcDateTime.AddHours(10), Ct)).Value.Single();
        Assert.True(newest.OpenTime.AddMinutes(1) <= DateTime.UtcNow, $"the candle opened at {newest.OpenTime:O} had not closed");
    }

    [Fact]
    public async Task A_short_job_is_not_stuck_behind_long_ones()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake, new BackfillOptions { SlicePages = 2, Prefetch = 2 });
        var series = new SeriesKey("BTCUSDT", M1);
        var created = DateTimeOffset.UtcNow;
        var longJobs = new List<BackfillJob>();
        for (var i = 0; i < 3; i++)
        {
            // Three 8-page jobs created first, then a 1-page one: oldest first, it would wait for all of them.
            var job = BackfillJobs.New(series, Start.AddDays(-i - 1), Start.AddDays(-i - 1).AddMinutes(8 * 499), BackfillTriggers.Manual, created.AddMilliseconds(i));
            await rig.Store.CreateAsync(job, Ct);
            longJobs.Add(job);
        }

        var shortJob = BackfillJobs.New(series, Start, Start.AddHours(2), BackfillTriggers.Auto, created.AddMilliseconds(10));
        await rig.Store.CreateAsync(shortJob, Ct);

        await rig.Runner.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(1, Ct), Ct);
        var jobs = await rig.Store.ListAsync(null, 10, Ct);
        Assert.All(jobs, j => Assert.Equal(BackfillJobState.Completed, j.State));
        var shortDone = jobs.Single(j => j.Id == shortJob.Id).FinishedAt!.Value;
        Assert.All(jobs.Where(j => j.Id != shortJob.Id), j => Assert.True(shortDone < j.FinishedAt, $"the short job ended at {shortDone:O}, a long one at {j.FinishedAt:O}"));
        Assert.Equal(3 * 8 + 1, fake.Requests); // turns cost no extra request: each page is asked for once
    }

    [Fact]
    public async Task A_leader_without_backfill_says_so_in_the_waiting_jobs_once()
    {
        var store = await StoreAsync("queue");
        var job = BackfillJobs.New(new SeriesKey("BTCUSDT", M1), Start, Start.AddHours(1), BackfillTriggers.Manual, DateTimeOffset.UtcNow.AddMinutes(-20));
        await store.CreateAsync(job, Ct);
        var metrics = new BackfillMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()));
        var monitor = new BackfillQueueMonitor(store, Options.Create(new BackfillOptions { Enabled = false }), Options.Create(new ServiceOptions { PodId = "data-manager-1" }), metrics,
            TimeProvider.System);

        await monitor.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(3, Ct), Ct);
        var waiting = await store.GetAsync(job.Id, Ct);
        Assert.Equal((BackfillJobState.Pending, BackfillQueueMonitor.WaitingMessage("data-manager-1")), (waiting!.State, waiting.LastError));
        Assert.Equal((1.0, 0.0), (metrics.Jobs.WithLabels("pending").Value, metrics.Jobs.WithLabels("running").Value));
        Assert.InRange(metrics.OldestPending.Value, 20 * 60, 60 * 60); // created 20 minutes ago

        await monitor.RunOnceAsync(new DataManager.Leadership.LeadershipTicket(3, Ct), Ct);
        Assert.Equal(waiting.Version, (await store.GetAsync(job.Id, Ct))!.Version); // said once, not rewritten every poll
    }

    [Fact]
    public async Task Posting_a_job_where_backfill_is_disabled_is_a_409_that_says_so()
    {
        var store = await StoreAsync("disabled");
        await using var host = await ApiHostAsync(store, backfill: false);
        using var response = await host.Client.PostAsJsonAsync("/backfill/jobs", new { symbol = "BTCUSDT", timeframe = "1m", from = Start, to = Start.AddHours(1) }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains(BackfillEndpoints.Disabled, await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Empty(await store.ListAsync(null, 10, Ct));
        var metrics = await host.Client.GetStringAsync("/metrics", Ct);
        Assert.Matches(@"(?m)^data_manager_backfill_oldest_pending_seconds 0$", metrics); // exported from the start, at 0: no job waits
    }

    [Fact]
    public async Task The_api_clamps_a_range_to_the_last_closed_candle_and_refuses_future_and_impossible_years()
    {
        var store = await StoreAsync("ranges");
        await using var host = await ApiHostAsync(store);
        var closedUntil = BackfillRunner.ClosedUntil(DateTimeOffset.UtcNow, M1);
        using (var clamped = await host.Client.PostAsJsonAsync("/backfill/jobs", new { symbol = "btcusdt", timeframe = "1m", from = closedUntil.AddHours(-2).ToString("O"), to = closedUntil.AddHours(5).ToString("O") }, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, clamped.StatusCode);
            var job = await clamped.Content.ReadFromJsonAsync<BackfillJob>(StoreJson.Options, Ct);
            Assert.Equal("BTCUSDT", job!.Symbol);
            Assert.InRange(job.To, closedUntil, closedUntil.AddMinutes(1)); // a minute may have turned meanwhile
            Assert.InRange(job.ExpectedCandles, 120, 121);
        }

        async Task RefusedAsync(string field, object body)
        {
            using var response = await host.Client.PostAsJsonAsync("/backfill/jobs", body, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains($"\"{field}\"", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        await RefusedAsync("from", new { symbol = "BTCUSDT", timeframe = "1m", from = closedUntil.AddHours(1).ToString("O"), to = closedUntil.AddHours(2).ToString("O") });
        await RefusedAsync("from", new { symbol = "BTCUSDT", timeframe = "1m", from = "0001-01-01T00:00:00Z", to = "0001-01-02T00:00:00Z" });
        await RefusedAsync("from", new { symbol = "BTCUSDT", timeframe = "1m", from = "2019-08-31T00:00:00Z", to = "2019-09-02T00:00:00Z" });
        await RefusedAsync("to", new { symbol = "BTCUSDT", timeframe = "1m", from = "2024-01-01T00:00:00Z", to = "9999-12-31T00:00:00Z" });
        await RefusedAsync("from", new { symbol = "BTCUSDT", timeframe = "1m", from = "2024-01-01T00:00:00", to = "2024-01-02T00:00:00Z" }); // no offset
        Assert.Single(await store.ListAsync(null, 10, Ct));
    }

    [Fact]
    public async Task Jobs_are_listed_newest_first_a_page_at_a_time()
    {
        var store = await StoreAsync("paging");
        var series = new SeriesKey("BTCUSDT", M1);
        var created = DateTimeOffset.UtcNow.AddHours(-1);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var job = BackfillJobs.New(series, Start, Start.AddHours(1), BackfillTriggers.Auto, created.AddSeconds(i)) with { State = i == 2 ? BackfillJobState.Failed : BackfillJobState.Completed };
            await store.CreateAsync(job, Ct);
            ids.Add(job.Id);
        }

        await using var host = await ApiHostAsync(store);
        var seen = new List<string>();
        var url = "/backfill/jobs?limit=2";
        for (var pages = 0; url is not null; pages++)
        {
            Assert.True(pages < 3);
            using var response = await host.Client.GetAsync(url, Ct);
            seen.AddRange((await response.Content.ReadFromJsonAsync<List<BackfillJob>>(StoreJson.Options, Ct))!.Select(j => j.Id));
            url = response.Headers.TryGetValues("X-Next-Cursor", out var next) ? $"/backfill/jobs?limit=2&cursor={Uri.EscapeDataString(next.Single())}" : null;
        }

        Assert.Equal(Enumerable.Reverse(ids), seen);
        Assert.Equal([ids[2]], (await host.Client.GetFromJsonAsync<List<BackfillJob>>("/backfill/jobs?state=failed", StoreJson.Options, Ct))!.Select(j => j.Id));
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Client.GetAsync("/backfill/jobs?cursor=nonsense", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Client.GetAsync("/backfill/jobs?limit=0", Ct)).StatusCode);
    }

    /// <summary>The audit window is the span the test seeded (a longer one would rightly find a head gap before it).</summary>
    private static AuditLoop AuditLoop(Rig rig, DateTimeOffset now, FakeTimeProvider? clock = null) =>
        AuditLoopTests.Scheduler(rig.Candles, rig.Store, clock ?? new FakeTimeProvider(now),
            new SeriesOptions { SupportedPairs = ["BTCUSDT"], PairsConfigured = true, SupportedTimeframes = [M1] },
            new CandleDatabaseOptions { MySqlConnectionString = "unused" },
            new AuditOptions { Window = now - Start });

    private static AutoBackfillLoop AutoBackfill(Rig rig, TimeProvider time) => AutoBackfill(rig.Store, rig.Options, time);

    internal static AutoBackfillLoop AutoBackfill(SqliteTestStore store, BackfillOptions options, TimeProvider time) =>
        new(store, store, Options.Create(options), new BackfillMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry())), time, Microsoft.Extensions.Logging.Abstractions.NullLogger<AutoBackfillLoop>.Instance);

    /// <summary>The store file the way the service names it, so a host on the same DATA_DIR shares it.</summary>
    private async Task<SqliteTestStore> StoreAsync(string name)
    {
        var directory = Path.Combine(_directory, name);
        Directory.CreateDirectory(directory);
        var store = new SqliteTestStore(Path.Combine(directory, "datamanager.db"));
        await store.InitializeAsync(Ct);
        return store;
    }

    /// <summary>The real service on the same DATA_DIR: any replica accepts jobs and serves them from the shared store.</summary>
    private static Task<ServiceHost> ApiHostAsync(SqliteTestStore store, bool backfill = true) => ServiceHost.StartAsync(new Dictionary<string, string?>
    {
        ["DATA_DIR"] = Path.GetDirectoryName(store.Path),
        ["ENABLE_AUDITOR"] = "false",
        ["ENABLE_ANALYTICS"] = "false",
        ["ENABLE_BACKFILLER"] = backfill ? "true" : "false",
        ["BACKFILL_POLL_INTERVAL"] = "3600", // the API is under test here, not the runner
        ["BINANCE_FAPI_BASE_URL"] = "http://127.0.0.1:9",
    });

    private sealed class SyncProgress(Func<BackfillJob, Task> report) : IProgress<BackfillJob>
    {
        public void Report(BackfillJob value) => report(value).GetAwaiter().GetResult();
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
