using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using DataManager.Storage;
using DataManager.Testing;

namespace DataManager.Tests.Storage;

/// <summary>What every store must do, run against SQLite always and MongoDB where one answers.</summary>
public abstract partial class StoreContractTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A new, empty, initialised store.</summary>
    protected abstract Task<TStore> CreateStoreAsync<TStore>()
        where TStore : class;

    private Task<IAuditStore> Audits() => CreateStoreAsync<IAuditStore>();

    protected static AuditRecord Audit(string symbol, string timeframe, DateTimeOffset at, string cycle = "c1", long term = 1) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        CycleId = cycle,
        Term = term,
        Symbol = symbol,
        Timeframe = timeframe,
        WindowFrom = at.AddDays(-1),
        WindowTo = at,
        AuditedAt = at,
        ExpectedCandles = 96,
        ActualCandles = 95,
        Gaps = [new GapFinding(T0.AddMinutes(615), T0.AddMinutes(615), 1)],
        Duplicates = [new DuplicateFinding(T0.AddHours(11), 2)],
        DuplicateSurplus = 1,
        Integrity = [new IntegrityFinding(T0.AddHours(12), "ohlc_inconsistent", "BTCUSDT_1")],
        Anomalies = [],
        Health = new HealthScore(98.96, 100, 85, 93.58, "healthy"),
    };

    [Fact]
    public async Task Audits_round_trip_every_field()
    {
        var store = await Audits();
        var record = Audit("BTCUSDT", "15m", T0.AddMilliseconds(123));
        await store.InsertAsync([record], Ct);

        var read = Assert.Single(await store.QueryAsync(new AuditQuery(), Ct));
        Assert.Equal(StoreJson.Serialize(record), StoreJson.Serialize(read));
        Assert.Equal(TimeSpan.Zero, read.AuditedAt.Offset);
    }

    [Fact]
    public async Task Audit_queries_filter_order_newest_first_and_page()
    {
        var store = await Audits();
        var records = Enumerable.Range(0, 5).Select(i => Audit("BTCUSDT", "1h", T0.AddHours(i)))
            .Append(Audit("ETHUSDT", "1h", T0.AddHours(2)))
            .Append(Audit("BTCUSDT", "15m", T0.AddHours(3)))
            .ToList();
        await store.InsertAsync(records, Ct);

        var btc1h = await store.QueryAsync(new AuditQuery("BTCUSDT", "1h"), Ct);
        Assert.Equal([.. Enumerable.Range(0, 5).Reverse().Select(i => T0.AddHours(i))], btc1h.Select(r => r.AuditedAt).ToArray());

        var window = await store.QueryAsync(new AuditQuery(From: T0.AddHours(2), To: T0.AddHours(4)), Ct);
        Assert.Equal(4, window.Count);
        Assert.All(window, r => Assert.InRange(r.AuditedAt, T0.AddHours(2), T0.AddHours(3)));

        var page = await store.QueryAsync(new AuditQuery("BTCUSDT", "1h", Skip: 1, Limit: 2), Ct);
        Assert.Equal([T0.AddHours(3), T0.AddHours(2)], page.Select(r => r.AuditedAt).ToArray());
    }

    [Fact]
    public async Task Latest_per_series_takes_the_newest_audit_of_each_series()
    {
        var store = await Audits();
        await store.InsertAsync(
        [
            Audit("BTCUSDT", "1h", T0), Audit("BTCUSDT", "1h", T0.AddHours(1), "c2"),
            Audit("ETHUSDT", "1h", T0), Audit("BTCUSDT", "15m", T0.AddMinutes(5)),
        ], Ct);

        var latest = await store.LatestPerSeriesAsync(Ct);
        Assert.Equal(["BTCUSDT/15m", "BTCUSDT/1h", "ETHUSDT/1h"], latest.Select(a => $"{a.Symbol}/{a.Timeframe}").ToArray());
        Assert.Equal("c2", latest.Single(a => a.Symbol == "BTCUSDT" && a.Timeframe == "1h").CycleId);
    }

    [Fact]
    public async Task Latest_per_series_returns_one_record_even_when_two_share_a_time()
    {
        var store = await Audits();
        await store.InsertAsync([Audit("BTCUSDT", "1h", T0, "c1"), Audit("BTCUSDT", "1h", T0, "c2")], Ct);
        Assert.Single(await store.LatestPerSeriesAsync(Ct));
    }

    [Fact]
    public async Task Cycles_are_saved_replaced_and_the_latest_is_read_back()
    {
        var store = await Audits();
        Assert.Empty(await store.RecentCyclesAsync(5, Ct));
        var first = new AuditCycleRecord { Id = "a", Term = 3, Leader = "pod-1", StartedAt = T0 };
        var second = new AuditCycleRecord { Id = "b", Term = 3, Leader = "pod-1", StartedAt = T0.AddMinutes(5) };
        await store.SaveCycleAsync(first, Ct);
        await store.SaveCycleAsync(second, Ct);
        await store.SaveCycleAsync(second with { FinishedAt = T0.AddMinutes(6), SeriesAudited = 40, Gaps = 2, Errors = 1 }, Ct);

        var recent = await store.RecentCyclesAsync(5, Ct);
        Assert.Equal(["b", "a"], recent.Select(c => c.Id).ToArray());
        var latest = recent[0];
        Assert.Equal("b", latest.Id);
        Assert.Equal(40, latest.SeriesAudited);
        Assert.Equal(T0.AddMinutes(6), latest.FinishedAt);
    }

    [Fact]
    public async Task Prune_removes_only_older_audits()
    {
        var store = await Audits();
        await store.InsertAsync([Audit("BTCUSDT", "1h", T0), Audit("BTCUSDT", "1h", T0.AddDays(2))], Ct);
        var removed = await store.PruneAsync(T0.AddDays(1), Ct);
        Assert.Equal(1, removed);
        Assert.Equal(T0.AddDays(2), Assert.Single(await store.QueryAsync(new AuditQuery(), Ct)).AuditedAt);
    }

    [Fact]
    public async Task Health_history_is_per_series_newest_first_within_the_range()
    {
        var store = await CreateStoreAsync<IHealthScoreStore>();
        var scores = Enumerable.Range(0, 4).Select(i => new HealthScoreRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            Symbol = "BTCUSDT",
            Timeframe = "1h",
            At = T0.AddHours(i),
            Term = 1,
            Health = new HealthScore(100 - i, 100, 100, 99, "healthy"),
        }).ToList();
        scores.Add(scores[0] with { Id = "other", Symbol = "ETHUSDT" });
        await store.AppendAsync(scores, Ct);

        var history = await store.HistoryAsync("BTCUSDT", "1h", T0.AddHours(1), null, 10, Ct);
        Assert.Equal([97.0, 98.0, 99.0], history.Select(h => h.Health.Completeness).ToArray());
        Assert.Equal(2, (await store.HistoryAsync("BTCUSDT", "1h", null, null, 2, Ct)).Count);
        Assert.Equal(2, await store.PruneAsync(T0.AddHours(1), Ct));
    }

    private static BackfillJob Job(string id, DateTimeOffset created, BackfillJobState state = BackfillJobState.Pending) => new()
    {
        Id = id,
        Symbol = "BTCUSDT",
        Timeframe = "1m",
        From = T0,
        To = T0.AddDays(1),
        Trigger = "manual",
        State = state,
        ExpectedCandles = 1440,
        CreatedAt = created,
        UpdatedAt = created,
    };

    [Fact]
    public async Task Backfill_jobs_are_listed_by_state_oldest_first()
    {
        var store = await CreateStoreAsync<IBackfillJobStore>();
        await store.CreateAsync(Job("b", T0.AddMinutes(1)), Ct);
        await store.CreateAsync(Job("a", T0), Ct);
        await store.CreateAsync(Job("c", T0.AddMinutes(2), BackfillJobState.Completed), Ct);

        Assert.Equal(["a", "b"], (await store.ListAsync(BackfillJobState.Pending, 10, Ct)).Select(j => j.Id).ToArray());
        Assert.Equal(["a", "b", "c"], (await store.ListAsync(null, 10, Ct)).Select(j => j.Id).ToArray());
        Assert.Null(await store.GetAsync("missing", Ct));
        var read = await store.GetAsync("c", Ct);
        Assert.Equal(BackfillJobState.Completed, read?.State);
    }

    [Fact]
    public async Task Pruning_backfill_jobs_removes_only_old_ended_ones()
    {
        var store = await CreateStoreAsync<IBackfillJobStore>();
        foreach (var (id, created, state) in new[]
        {
            ("old-completed", T0, BackfillJobState.Completed), ("old-failed", T0, BackfillJobState.Failed),
            ("old-cancelled", T0, BackfillJobState.Cancelled), ("old-pending", T0, BackfillJobState.Pending),
            ("old-running", T0, BackfillJobState.Running), ("new-completed", T0.AddDays(2), BackfillJobState.Completed),
        })
        {
            await store.CreateAsync(Job(id, created, state), Ct);
        }

        Assert.Equal(3, await store.PruneFinishedAsync(T0.AddDays(1), Ct));
        Assert.Equal(["new-completed", "old-pending", "old-running"], (await store.ListAsync(null, 10, Ct)).Select(j => j.Id).Order().ToArray());
        Assert.Equal(0, await store.PruneFinishedAsync(T0.AddDays(1), Ct));
    }

    [Fact]
    public async Task Backfill_jobs_are_counted_by_state()
    {
        var store = await CreateStoreAsync<IBackfillJobStore>();
        Assert.Empty(await store.CountByStateAsync(Ct));
        await store.CreateAsync(Job("a", T0), Ct);
        await store.CreateAsync(Job("b", T0.AddMinutes(1)), Ct);
        await store.CreateAsync(Job("c", T0.AddMinutes(2), BackfillJobState.Failed), Ct);
        var job = Job("d", T0.AddMinutes(3));
        await store.CreateAsync(job, Ct);
        Assert.True(await store.TryUpdateAsync(job with { State = BackfillJobState.Completed }, 0, Ct));

        var counts = await store.CountByStateAsync(Ct);
        Assert.Equal(3, counts.Count);
        Assert.Equal(2, counts[BackfillJobState.Pending]);
        Assert.Equal(1, counts[BackfillJobState.Failed]);
        Assert.Equal(1, counts[BackfillJobState.Completed]);
    }

    [Fact]
    public async Task Backfill_job_updates_are_optimistic_on_the_version()
    {
        var store = await CreateStoreAsync<IBackfillJobStore>();
        var job = Job("j", T0);
        await store.CreateAsync(job, Ct);

        Assert.True(await store.TryUpdateAsync(job with { State = BackfillJobState.Running, Cursor = T0.AddHours(1), Term = 4 }, 0, Ct));
        Assert.False(await store.TryUpdateAsync(job with { State = BackfillJobState.Cancelled }, 0, Ct));

        var read = await store.GetAsync("j", Ct);
        Assert.NotNull(read);
        Assert.Equal(BackfillJobState.Running, read.State);
        Assert.Equal(1, read.Version);
        Assert.Equal(T0.AddHours(1), read.Cursor);
        Assert.Equal(4, read.Term);
        Assert.Single(await store.ListAsync(BackfillJobState.Running, 10, Ct));
    }

    [Fact]
    public async Task A_backfill_job_keeps_its_owner_incarnation_and_weight()
    {
        var store = await CreateStoreAsync<IBackfillJobStore>();
        var job = Job("j", T0);
        await store.CreateAsync(job, Ct);
        Assert.True(await store.TryUpdateAsync(job with { State = BackfillJobState.Running, Owner = "pod-0", OwnerIncarnation = "4f1c", WeightUsed = 42 }, 0, Ct));

        var read = await store.GetAsync("j", Ct);
        Assert.Equal(("pod-0", "4f1c", 42L), (read!.Owner, read.OwnerIncarnation, read.WeightUsed));
        Assert.Equal("4f1c", Assert.Single(await store.ListAsync(BackfillJobState.Running, 10, Ct)).OwnerIncarnation);
    }

    [Fact]
    public async Task Backfill_jobs_page_newest_first_after_a_position()
    {
        var store = await CreateStoreAsync<IBackfillJobStore>();
        // Two jobs created in the same millisecond: the id orders them.
        foreach (var (id, minute, state) in new[] { ("a", 0, BackfillJobState.Completed), ("b", 1, BackfillJobState.Failed), ("c", 1, BackfillJobState.Completed), ("d", 2, BackfillJobState.Completed) })
        {
            await store.CreateAsync(Job(id, T0.AddMinutes(minute), state), Ct);
        }

        var first = await store.ListNewestAsync(null, null, 2, Ct);
        Assert.Equal(["d", "c"], first.Select(j => j.Id).ToArray());
        var second = await store.ListNewestAsync(null, BackfillJobPosition.Of(first[^1]), 2, Ct);
        Assert.Equal(["b", "a"], second.Select(j => j.Id).ToArray());
        Assert.Empty(await store.ListNewestAsync(null, BackfillJobPosition.Of(second[^1]), 2, Ct));
        Assert.Equal(["c", "a"], (await store.ListNewestAsync(BackfillJobState.Completed, BackfillJobPosition.Of(first[0]), 10, Ct)).Select(j => j.Id).ToArray());
        Assert.True(BackfillJobPosition.TryParse(BackfillJobPosition.Of(first[^1]).ToString(), out var position));
        Assert.Equal(BackfillJobPosition.Of(first[^1]), position);
    }

    [Fact]
    public async Task Analytics_latest_takes_each_metric_group_and_history_filters()
    {
        var store = await CreateStoreAsync<IAnalyticsStore>();
        AnalyticsResult Result(string metric, DateTimeOffset at, double value) => new()
        {
            Id = Guid.NewGuid().ToString("N"),
            Symbol = "BTCUSDT",
            Timeframe = "1h",
            Metric = metric,
            ComputedAt = at,
            Term = 2,
            Values = new Dictionary<string, double?> { ["value"] = value, ["atr14"] = null },
            Reasons = new Dictionary<string, string> { ["atr14"] = "needs 15 candles, have 3" },
        };
        await store.InsertAsync([Result("volatility", T0, 1), Result("volatility", T0.AddHours(1), 2), Result("trend", T0, 3)], Ct);

        var latest = await store.LatestAsync("BTCUSDT", "1h", Ct);
        Assert.Equal(["trend", "volatility"], latest.Select(r => r.Metric).ToArray());
        Assert.Equal(2, latest[1].Values["value"]);
        Assert.Null(latest[1].Values["atr14"]);
        Assert.Equal("needs 15 candles, have 3", latest[1].Reasons["atr14"]);

        var history = await store.HistoryAsync("BTCUSDT", "1h", "volatility", T0, T0.AddMinutes(30), 10, Ct);
        Assert.Equal(1, Assert.Single(history).Values["value"]);
        Assert.Empty(await store.LatestAsync("ETHUSDT", "1h", Ct));
    }

    [Fact]
    public async Task Archived_candles_keep_prices_exact()
    {
        var store = await CreateStoreAsync<ICandleArchiveStore>();
        var open = new DateTime(2026, 11, 22, 11, 0, 0, DateTimeKind.Utc);
        var row = DemoCandles.Make("BTCUSDT", Timeframe.Parse("1h"), open, 97000.12345678m, 99999999999.99999999m, 0.00000001m, 97000.1m, 1234.5m, 42);
        await store.ArchiveAsync([new ArchivedCandle { Id = "x", Timeframe = "1h", RemovedAt = T0, Term = 5, Reason = "keep_newest", Row = row }], Ct);

        var read = Assert.Single(await store.ListAsync("BTCUSDT", "1h", Ct)).Row;
        Assert.Equal(97000.12345678m, read.Open);
        Assert.Equal(99999999999.99999999m, read.High);
        Assert.Equal(0.00000001m, read.Low);
        Assert.Equal(row.PriceChangePercent, read.PriceChangePercent);
        Assert.Equal(open, read.OpenTime);
        Assert.Equal(DateTimeKind.Utc, read.OpenTime.Kind);
    }

    [Fact]
    public async Task Times_read_back_as_whole_milliseconds_in_utc()
    {
        var store = await Audits();
        var at = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_234_567);
        await store.InsertAsync([Audit("BTCUSDT", "1h", at)], Ct);

        var read = Assert.Single(await store.QueryAsync(new AuditQuery("BTCUSDT", "1h"), Ct));
        Assert.Equal(StoreJson.ToStoredPrecision(at), read.AuditedAt);
        Assert.Equal(TimeSpan.Zero, read.AuditedAt.Offset);
        Assert.Equal(StoreJson.ToStoredPrecision(at.AddDays(-1)), read.WindowFrom);
        Assert.Equal(TimeSpan.Zero, read.WindowFrom.Offset);
        Assert.Equal(0, read.AuditedAt.Ticks % TimeSpan.TicksPerMillisecond);
    }

    [Fact]
    public async Task Latest_and_newest_first_break_time_ties_by_id_ascending()
    {
        var audits = await Audits();
        // Inserted in the other order, so neither store's insertion order decides.
        await audits.InsertAsync([Audit("BTCUSDT", "1h", T0, "c1") with { Id = "a" }], Ct);
        await audits.InsertAsync([Audit("BTCUSDT", "1h", T0, "c2") with { Id = "b" }], Ct);
        Assert.Equal("a", Assert.Single(await audits.LatestPerSeriesAsync(Ct)).Id);
        Assert.Equal(["a", "b"], (await audits.QueryAsync(new AuditQuery("BTCUSDT", "1h"), Ct)).Select(a => a.Id).ToArray());

        var analytics = await CreateStoreAsync<IAnalyticsStore>();
        AnalyticsResult Result(string id) => new() { Id = id, Symbol = "BTCUSDT", Timeframe = "1h", Metric = "trend", ComputedAt = T0, Term = 1 };
        await analytics.InsertAsync([Result("x")], Ct);
        await analytics.InsertAsync([Result("y")], Ct);
        Assert.Equal("x", Assert.Single(await analytics.LatestAsync("BTCUSDT", "1h", Ct)).Id);
        Assert.Equal(["x", "y"], (await analytics.HistoryAsync("BTCUSDT", "1h", "trend", null, null, 10, Ct)).Select(r => r.Id).ToArray());

        var health = await CreateStoreAsync<IHealthScoreStore>();
        HealthScoreRecord Score(string id) => new() { Id = id, Symbol = "BTCUSDT", Timeframe = "1h", At = T0, Term = 1, Health = new HealthScore(100, 100, 100, 100, "healthy") };
        await health.AppendAsync([Score("p")], Ct);
        await health.AppendAsync([Score("q")], Ct);
        Assert.Equal(["p", "q"], (await health.HistoryAsync("BTCUSDT", "1h", null, null, 10, Ct)).Select(h => h.Id).ToArray());
    }

    [Fact]
    public async Task Batch_inserts_are_idempotent_so_a_retried_batch_completes_without_duplicates()
    {
        // A retry after a timeout resends records that may already be stored: each id is stored once and
        // the rest of the batch still lands.
        var audits = await Audits();
        var a = Audit("BTCUSDT", "1h", T0) with { Id = "a" };
        var b = Audit("BTCUSDT", "1h", T0.AddHours(1)) with { Id = "b" };
        await audits.InsertAsync([a], Ct);
        await audits.InsertAsync([a with { CycleId = "retry" }, b], Ct);
        Assert.Equal(["b", "a"], (await audits.QueryAsync(new AuditQuery(), Ct)).Select(r => r.Id).ToArray());
        Assert.Equal("c1", (await audits.QueryAsync(new AuditQuery(), Ct)).Single(r => r.Id == "a").CycleId); // the first write stays

        var health = await CreateStoreAsync<IHealthScoreStore>();
        var score = new HealthScoreRecord { Id = "h", Symbol = "BTCUSDT", Timeframe = "1h", At = T0, Term = 1, Health = new HealthScore(100, 100, 100, 100, "healthy") };
        await health.AppendAsync([score], Ct);
        await health.AppendAsync([score, score with { Id = "h2", At = T0.AddHours(1) }], Ct);
        Assert.Equal(2, (await health.HistoryAsync("BTCUSDT", "1h", null, null, 10, Ct)).Count);

        var analytics = await CreateStoreAsync<IAnalyticsStore>();
        var result = new AnalyticsResult { Id = "r", Symbol = "BTCUSDT", Timeframe = "1h", Metric = "trend", ComputedAt = T0, Term = 1 };
        await analytics.InsertAsync([result], Ct);
        await analytics.InsertAsync([result, result with { Id = "r2", Metric = "volatility" }], Ct);
        Assert.Equal(["r", "r2"], (await analytics.LatestAsync("BTCUSDT", "1h", Ct)).Select(r => r.Id).ToArray());

        var archive = await CreateStoreAsync<ICandleArchiveStore>();
        var row = DemoCandles.Make("BTCUSDT", Timeframe.Parse("1h"), new DateTime(2026, 11, 22, 11, 0, 0, DateTimeKind.Utc), 1m, 2m, 0.5m, 1.5m, 10m, 3);
        var archived = new ArchivedCandle { Id = "x", Timeframe = "1h", RemovedAt = T0, Term = 5, Reason = "keep_newest", Row = row };
        await archive.ArchiveAsync([archived], Ct);
        await archive.ArchiveAsync([archived, archived with { Id = "y", RemovedAt = T0.AddMinutes(1) }], Ct);
        Assert.Equal(["x", "y"], (await archive.ListAsync("BTCUSDT", "1h", Ct)).Select(r => r.Id).ToArray());
    }

    /// <summary>A claimant: the pod name, and its process incarnation (one per pod unless a test restarts it).</summary>
    private static LeaseClaimant Pod(string holder, string incarnation = "first") => new(holder, incarnation);

    [Fact]
    public async Task Lease_is_created_with_term_1_and_renewal_keeps_the_term()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        var first = await store.TryAcquireOrRenewAsync("election", Pod("pod-a"), TimeSpan.FromSeconds(30), Ct);
        Assert.True(first.IsHolder);
        Assert.Equal(1, first.Lease!.Term);
        Assert.Equal("pod-a", first.Lease.Holder);
        Assert.True(first.Lease.ExpiresAt > first.Lease.RenewedAt);

        var renewed = await store.TryAcquireOrRenewAsync("election", Pod("pod-a"), TimeSpan.FromSeconds(30), Ct);
        Assert.True(renewed.IsHolder);
        Assert.Equal(1, renewed.Lease!.Term);
        Assert.Equal(first.Lease.AcquiredAt, renewed.Lease.AcquiredAt);
        Assert.True(renewed.Lease.RenewedAt >= first.Lease.RenewedAt);
    }

    [Fact]
    public async Task Lease_held_by_another_is_not_taken_until_it_expires_and_then_the_term_rises()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        Assert.True((await store.TryAcquireOrRenewAsync("e", Pod("pod-a"), TimeSpan.FromSeconds(2), Ct)).IsHolder);

        var refused = await store.TryAcquireOrRenewAsync("e", Pod("pod-b"), TimeSpan.FromSeconds(30), Ct);
        Assert.False(refused.IsHolder);
        Assert.Equal("pod-a", refused.Lease!.Holder);

        LeaseAttempt taken = refused;
        await Eventually.UntilAsync("pod-a's lease expires on the store's clock and pod-b takes it",
            async token => (taken = await store.TryAcquireOrRenewAsync("e", Pod("pod-b"), TimeSpan.FromSeconds(30), token)).IsHolder, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        Assert.Equal(2, taken.Lease!.Term);
        Assert.False((await store.TryAcquireOrRenewAsync("e", Pod("pod-a"), TimeSpan.FromSeconds(30), Ct)).IsHolder);
    }

    [Fact]
    public async Task Release_expires_the_lease_keeps_the_holder_and_reacquiring_raises_the_term()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        await store.TryAcquireOrRenewAsync("e", Pod("pod-a"), TimeSpan.FromSeconds(30), Ct);

        await store.ReleaseAsync("e", Pod("pod-b"), Ct); // not the holder: no effect
        Assert.False((await store.TryAcquireOrRenewAsync("e", Pod("pod-c"), TimeSpan.FromSeconds(30), Ct)).IsHolder);

        await store.ReleaseAsync("e", Pod("pod-a"), Ct);
        var released = await store.ReadAsync("e", Ct);
        Assert.Equal("pod-a", released!.Holder);
        Assert.True(released.ExpiresAt <= DateTimeOffset.UtcNow.AddSeconds(1));

        var again = await store.TryAcquireOrRenewAsync("e", Pod("pod-a"), TimeSpan.FromSeconds(30), Ct);
        Assert.True(again.IsHolder);
        Assert.Equal(2, again.Lease!.Term);
    }

    [Fact]
    public async Task Concurrent_acquisitions_have_exactly_one_winner()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        var attempts = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            Task.Run(() => store.TryAcquireOrRenewAsync("race", Pod($"pod-{i}"), TimeSpan.FromSeconds(30), Ct), Ct)));

        var winner = Assert.Single(attempts, a => a.IsHolder);
        Assert.Equal(1, winner.Lease!.Term);
        Assert.All(attempts.Where(a => !a.IsHolder), a => Assert.Equal(winner.Lease.Holder, a.Lease?.Holder));
    }

    [Fact]
    public async Task Elections_are_independent_by_name()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        Assert.Null(await store.ReadAsync("none", Ct));
        Assert.True((await store.TryAcquireOrRenewAsync("one", Pod("pod-a"), TimeSpan.FromSeconds(30), Ct)).IsHolder);
        Assert.True((await store.TryAcquireOrRenewAsync("two", Pod("pod-b"), TimeSpan.FromSeconds(30), Ct)).IsHolder);
    }

    [Fact]
    public async Task Lease_held_by_the_same_pod_under_another_incarnation_waits_for_expiry_and_then_the_term_rises()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        var first = await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "before-restart"), TimeSpan.FromSeconds(2), Ct);
        Assert.True(first.IsHolder);
        Assert.Equal("before-restart", first.Lease!.Incarnation);

        // The same POD_NAME in a new process (restarted in place, or a second process misconfigured with the
        // same name) is someone else: it must not renew the old process's lease and inherit its term.
        var refused = await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "after-restart"), TimeSpan.FromSeconds(30), Ct);
        Assert.False(refused.IsHolder);
        Assert.Equal("before-restart", refused.Lease!.Incarnation);
        Assert.Equal(1, refused.Lease.Term);

        LeaseAttempt taken = refused;
        await Eventually.UntilAsync("the old incarnation's lease expires and the new one takes it",
            async token => (taken = await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "after-restart"), TimeSpan.FromSeconds(30), token)).IsHolder, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        Assert.Equal(2, taken.Lease!.Term);
        Assert.Equal("pod-a", taken.Lease.Holder);
        Assert.Equal("after-restart", taken.Lease.Incarnation);

        // The same incarnation renews and keeps the term; the old incarnation is now the outsider.
        var renewed = await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "after-restart"), TimeSpan.FromSeconds(30), Ct);
        Assert.True(renewed.IsHolder);
        Assert.Equal(2, renewed.Lease!.Term);
        Assert.Equal(taken.Lease.AcquiredAt, renewed.Lease.AcquiredAt);
        Assert.False((await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "before-restart"), TimeSpan.FromSeconds(30), Ct)).IsHolder);
    }

    [Fact]
    public async Task Release_by_another_incarnation_of_the_pod_has_no_effect_and_a_graceful_restart_takes_over_at_once()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "old"), TimeSpan.FromSeconds(30), Ct);

        await store.ReleaseAsync("e", Pod("pod-a", "new"), Ct);
        Assert.False((await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "new"), TimeSpan.FromSeconds(30), Ct)).IsHolder);

        await store.ReleaseAsync("e", Pod("pod-a", "old"), Ct);
        var released = await store.ReadAsync("e", Ct);
        Assert.Equal("old", released!.Incarnation);
        var next = await store.TryAcquireOrRenewAsync("e", Pod("pod-a", "new"), TimeSpan.FromSeconds(30), Ct);
        Assert.True(next.IsHolder);
        Assert.Equal(2, next.Lease!.Term);
    }

    [Fact]
    public async Task Lease_holder_and_incarnation_are_stored_verbatim_even_when_they_look_like_field_paths()
    {
        var store = await CreateStoreAsync<ILeaseStore>();
        var odd = Pod("$holder", "$$NOW");
        var first = await store.TryAcquireOrRenewAsync("e", odd, TimeSpan.FromSeconds(30), Ct);
        Assert.True(first.IsHolder);
        Assert.Equal("$holder", first.Lease!.Holder);
        Assert.Equal("$$NOW", first.Lease.Incarnation);
        var renewed = await store.TryAcquireOrRenewAsync("e", odd, TimeSpan.FromSeconds(30), Ct);
        Assert.True(renewed.IsHolder);
        Assert.Equal(1, renewed.Lease!.Term);
        Assert.False((await store.TryAcquireOrRenewAsync("e", Pod("pod-b"), TimeSpan.FromSeconds(30), Ct)).IsHolder);
    }
}
