using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Backfill;

/// <summary>
/// Who may take over a running job: the leader never runs a job another live process (the backfill verb, a
/// replica with election off) is running; it takes it over once that process's heartbeat lapses, and at once
/// from a dead predecessor under its own POD_NAME or a leader of an older term. Real MariaDB, the fake Binance.
/// </summary>
[Trait("Category", "Server")]
public sealed class BackfillTakeoverTests(MariaDbServer mariaDb) : IDisposable
{
    private const string Leader = "data-manager-0";
    private const string Verb = "cli@ops-laptop";
    private const long Candles = 1500; // 4 pages
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly SeriesKey Series = new("BTCUSDT", M1);
    private static readonly DateTimeOffset Start = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset End = Start.AddMinutes(Candles);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-backfill-takeover");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Rig(SqlCandleStore Candles, SqliteTestStore Store, FakeTimeProvider Clock, FakeBinance Fake, ServiceOptions LeaderService)
    {
        public BackfillRunner Runner(ServiceOptions service) =>
            BackfillServices.Build(new BackfillOptions { BinanceBaseUrl = Fake.Url }, Store, Candles, service, time: Clock).GetRequiredService<BackfillRunner>();
    }

    private async Task<Rig> RigAsync(FakeBinance fake)
    {
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var directory = Path.Combine(_directory, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var store = new SqliteTestStore(Path.Combine(directory, StoreOptions.FileName));
        await store.InitializeAsync(Ct);
        return new Rig(candles, store, new FakeTimeProvider(Start.AddDays(3)), fake, new ServiceOptions { PodId = Leader });
    }

    /// <summary>A job another process left running after committing nothing, its heartbeat stamped now.</summary>
    private static async Task<BackfillJob> LeftRunningAsync(Rig rig, string owner, long term)
    {
        var now = rig.Clock.GetUtcNow();
        var job = BackfillJobs.New(Series, Start, End, BackfillTriggers.Manual, now) with
        {
            State = BackfillJobState.Running, Owner = owner, OwnerIncarnation = "elsewhere", Term = term, Attempts = 1, StartedAt = now,
        };
        await rig.Store.CreateAsync(job, Ct);
        return job;
    }

    private static async Task AssertEveryCandleOnceAsync(Rig rig)
    {
        var summary = (await rig.Candles.SummarizeAsync(Series, Start.UtcDateTime, End.UtcDateTime, Ct)).Value;
        Assert.Equal((Candles, Candles), (summary.Rows, summary.DistinctOpenTimes));
    }

    [Fact]
    public async Task The_leader_leaves_a_live_verbs_job_alone_while_its_heartbeat_beats_and_the_verb_completes_it_once()
    {
        await using var fake = await FakeBinance.StartAsync();
        var pages = new TaskCompletionSource();
        fake.Hold = pages.Task; // the verb waits on its pages (a slow exchange, a ban) while the leader polls
        var rig = await RigAsync(fake);
        var verbService = new ServiceOptions { PodId = Verb };
        var job = BackfillJobs.New(Series, Start, End, BackfillTriggers.Manual, rig.Clock.GetUtcNow());
        await rig.Store.CreateAsync(job, Ct);
        var verb = rig.Runner(verbService).RunJobAsync(job, 0, Ct);
        // Its first page asked for: its heartbeat's timer is armed by then.
        await Eventually.UntilAsync("the verb runs its job", () => fake.Requests > 0, TimeSpan.FromSeconds(30), cancellationToken: Ct);
        Assert.Equal(Verb, (await rig.Store.GetAsync(job.Id, Ct))!.Owner);
        var leader = rig.Runner(rig.LeaderService);

        // Twice the takeover threshold goes by; the verb's heartbeat keeps the job its own all along.
        for (var beat = 0; beat < 6; beat++)
        {
            rig.Clock.Advance(BackfillRunner.HeartbeatInterval);
            var now = rig.Clock.GetUtcNow();
            await Eventually.UntilAsync("the verb's heartbeat is stored", async token => (await rig.Store.GetAsync(job.Id, token))!.UpdatedAt == now, TimeSpan.FromSeconds(30), cancellationToken: Ct);
            // Bounded: a leader that took the job would wait on its held pages (and fail here) instead of returning.
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            poll.CancelAfter(TimeSpan.FromSeconds(20));
            await leader.RunOnceAsync(new LeadershipTicket(0, poll.Token), poll.Token);
            var stored = (await rig.Store.GetAsync(job.Id, Ct))!;
            Assert.Equal((Verb, verbService.Incarnation, 1), (stored.Owner, stored.OwnerIncarnation, stored.Attempts));
        }

        pages.SetResult();
        var done = await verb;
        Assert.Equal((BackfillJobState.Completed, Verb, Candles, Candles), (done.State, done.Owner, done.FetchedCandles, done.WrittenCandles));
        await AssertEveryCandleOnceAsync(rig);
        Assert.Equal(4, fake.Requests); // every page asked for once: nobody else ran it
    }

    [Fact]
    public async Task A_dead_verbs_job_is_taken_over_once_its_heartbeat_is_older_than_the_threshold()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var job = await LeftRunningAsync(rig, Verb, 0);
        var leader = rig.Runner(rig.LeaderService);

        rig.Clock.Advance(BackfillRunner.TakeoverAfter - TimeSpan.FromSeconds(1));
        await leader.RunOnceAsync(new LeadershipTicket(0, Ct), Ct);
        Assert.Equal(("elsewhere", 0), ((await rig.Store.GetAsync(job.Id, Ct))!.OwnerIncarnation, fake.Requests)); // it may still be alive

        rig.Clock.Advance(TimeSpan.FromSeconds(1));
        await leader.RunOnceAsync(new LeadershipTicket(0, Ct), Ct);
        var resumed = (await rig.Store.GetAsync(job.Id, Ct))!;
        Assert.Equal((BackfillJobState.Completed, Leader, rig.LeaderService.Incarnation, 2), (resumed.State, resumed.Owner, resumed.OwnerIncarnation, resumed.Attempts));
        await AssertEveryCandleOnceAsync(rig);
    }

    [Theory]
    [InlineData(Leader, 0L, 0L)] // a predecessor under this POD_NAME, election off: dead, whatever its heartbeat
    [InlineData(Leader, 3L, 3L)] // the same, election on, restarted before its lease expired
    [InlineData("data-manager-1", 1L, 2L)] // a leader of an older term: fenced
    public async Task A_job_of_this_pods_dead_predecessor_or_of_an_older_term_is_taken_over_at_once(string owner, long term, long leaderTerm)
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var job = await LeftRunningAsync(rig, owner, term);

        await rig.Runner(rig.LeaderService).RunOnceAsync(new LeadershipTicket(leaderTerm, Ct), Ct);
        var resumed = (await rig.Store.GetAsync(job.Id, Ct))!;
        Assert.Equal((BackfillJobState.Completed, Leader, leaderTerm), (resumed.State, resumed.Owner, resumed.Term));
        await AssertEveryCandleOnceAsync(rig);
    }

    [Fact]
    public async Task Another_replicas_live_job_at_the_same_term_is_not_taken_over_at_once()
    {
        await using var fake = await FakeBinance.StartAsync();
        var rig = await RigAsync(fake);
        var job = await LeftRunningAsync(rig, "data-manager-1", 2);

        await rig.Runner(rig.LeaderService).RunOnceAsync(new LeadershipTicket(2, Ct), Ct);
        Assert.Equal(("data-manager-1", 0), ((await rig.Store.GetAsync(job.Id, Ct))!.Owner, fake.Requests));
    }

    [Fact]
    public async Task The_verb_says_plainly_that_its_job_was_taken_over_and_exits_1()
    {
        await using var fake = await FakeBinance.StartAsync();
        var pages = new TaskCompletionSource();
        fake.Hold = pages.Task;
        var rig = await RigAsync(fake);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MYSQL_URI"] = MariaDbServer.ToUri(((MySqlCandleDialect)rig.Candles.Dialect).ConnectionString),
            ["BINANCE_FAPI_BASE_URL"] = fake.Url.ToString(),
            ["DATA_DIR"] = Path.GetDirectoryName(rig.Store.Path),
            ["POD_NAME"] = "ops-laptop",
        }).Build();
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var verb = DataManager.Cli.BackfillCommand.RunAsync(
            ["--symbol", "BTCUSDT", "--timeframe", "1m", "--from", "2026-11-20T00:00:00Z", "--to", "2026-11-21T01:00:00Z"], configuration, output, errors, Ct);

        var job = await Eventually.UntilValueAsync("the verb runs its job",
            async token => (await rig.Store.ListAsync(BackfillJobState.Running, 10, token)).SingleOrDefault(), TimeSpan.FromSeconds(60), cancellationToken: Ct);
        Assert.Equal((Verb, Verb, 0L), (job.CreatedBy, job.Owner, job.Term));
        // What a leader does once the verb's heartbeat lapsed (the verb was suspended, say).
        Assert.True(await rig.Store.TryUpdateAsync(job with { Owner = Leader, OwnerIncarnation = "leader", Term = 2, Attempts = 2 }, job.Version, Ct));
        pages.SetResult();

        Assert.Equal(1, await verb);
        var last = output.ToString().TrimEnd().Split('\n')[^1];
        Assert.StartsWith($"taken over by {Leader} (term 2)", last, StringComparison.Ordinal);
        Assert.DoesNotContain("; ;", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"backfill: job {job.Id} taken over by {Leader} (term 2)", errors.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_verbs_final_line_says_cancelled()
    {
        var job = BackfillJobs.New(Series, Start, End, BackfillTriggers.Manual, Start) with { State = BackfillJobState.Cancelled, OwnerIncarnation = "me", WrittenCandles = 499, FetchedCandles = 499 };
        Assert.Equal("cancelled: 499 written of 499 fetched so far; the rest of the range was not filled", DataManager.Cli.BackfillCommand.LostLine(job));
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
