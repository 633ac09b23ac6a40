using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace DataManager.Tests.Leadership;

/// <summary>
/// The elector against a real SQLite lease, driven one attempt at a time. The elector's own clock (renew
/// deadline, budgets) is a fake one that moves only when a test advances it; the lease expires on SQLite's
/// clock, so a lease outlives any pause of the test unless a test shortens it on purpose.
/// </summary>
public sealed class LeaderElectorTests : IDisposable
{
    private static readonly LeaderElectionOptions Fast = new()
    {
        HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        RenewDeadline = TimeSpan.FromMilliseconds(400),
        LeaseTimeout = TimeSpan.FromMinutes(10),
    };

    private readonly string _directory = ServerAvailability.TempDirectory("dm-elector");
    private readonly List<Lifetime> _lifetimes = [];
    private readonly FakeTimeProvider _time = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<SqliteTestStore> StoreAsync()
    {
        var store = new SqliteTestStore(Path.Combine(_directory, "store.db"));
        await store.InitializeAsync(Ct);
        return store;
    }

    private (LeaderElector Elector, Lifetime Lifetime) Elector(ILeaseStore store, string pod, LeaderElectionOptions? options = null, ILogger<LeaderElector>? logger = null, TimeProvider? time = null,
        LeadershipMetrics? metrics = null)
    {
        var readiness = new StoreReadiness();
        readiness.MarkReady();
        var lifetime = new Lifetime();
        _lifetimes.Add(lifetime);
        var elector = new LeaderElector(store, Options.Create(options ?? Fast), Options.Create(new ServiceOptions { PodId = pod }), readiness,
            metrics ?? new LeadershipMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())), time ?? _time, lifetime, logger ?? NullLogger<LeaderElector>.Instance);
        return (elector, lifetime);
    }

    [Fact]
    public async Task The_first_attempt_wins_term_1_and_renewals_keep_it()
    {
        var store = await StoreAsync();
        var (elector, _) = Elector(store, "pod-a");

        await elector.RunOnceAsync(Ct);
        var ticket = await elector.WaitForLeadershipAsync(Ct);
        Assert.Equal(1, ticket.Term);
        Assert.True(elector.IsFreshLeader(1));

        await elector.RunOnceAsync(Ct);
        var snapshot = elector.Snapshot();
        Assert.True(snapshot.IsLeader);
        Assert.Equal(1, snapshot.Term);
        Assert.Equal("pod-a", snapshot.Lease!.Holder);
        Assert.False(ticket.Token.IsCancellationRequested);
    }

    [Fact]
    public async Task Each_replica_logs_its_role_once_per_term_LEADER_or_FOLLOWER()
    {
        var store = await StoreAsync();
        var logA = new RecordingLogger<LeaderElector>(LogLevel.Information);
        var logB = new RecordingLogger<LeaderElector>(LogLevel.Information);
        var (a, _) = Elector(store, "pod-a", logger: logA);
        var (b, _) = Elector(store, "pod-b", logger: logB);
        await a.RunOnceAsync(Ct);
        await b.RunOnceAsync(Ct);
        await b.RunOnceAsync(Ct);
        await a.RunOnceAsync(Ct);

        Assert.Equal(["LEADER: pod-a became leader with term 1"], logA.Lines);
        Assert.Equal(["FOLLOWER: pod-b follows pod-a (term 1)"], logB.Lines);
    }

    [Fact]
    public async Task A_second_replica_follows_and_takes_over_with_a_higher_term_after_release()
    {
        var store = await StoreAsync();
        var (metricsA, metricsB) = (new LeadershipMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())), new LeadershipMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())));
        var (a, _) = Elector(store, "pod-a", metrics: metricsA);
        var (b, _) = Elector(store, "pod-b", metrics: metricsB);
        await a.RunOnceAsync(Ct);
        await b.RunOnceAsync(Ct);
        Assert.Equal((1.0, 1.0, 1.0), (metricsA.LeaderStatus.Value, metricsA.LeaderTerm.Value, metricsA.Transitions.Value));
        Assert.Equal((0.0, 1.0, 0.0), (metricsB.LeaderStatus.Value, metricsB.LeaderTerm.Value, metricsB.Transitions.Value)); // a follower reports the term it saw
        Assert.True(a.Snapshot().IsLeader);
        Assert.False(b.Snapshot().IsLeader);
        Assert.Equal("pod-a", b.Snapshot().Lease!.Holder);

        var ticket = await a.WaitForLeadershipAsync(Ct);
        await a.StopAsync(Ct);
        Assert.False(a.Snapshot().IsLeader);
        Assert.True(ticket.Token.IsCancellationRequested);

        await b.RunOnceAsync(Ct);
        Assert.True(b.Snapshot().IsLeader);
        Assert.Equal(2, b.Snapshot().Term);
        Assert.False(a.IsFreshLeader(1));
        Assert.Equal((0.0, 2.0), (metricsA.LeaderStatus.Value, metricsA.Transitions.Value)); // became leader, stepped down
        Assert.Equal((1.0, 2.0, 1.0), (metricsB.LeaderStatus.Value, metricsB.LeaderTerm.Value, metricsB.Transitions.Value));
    }

    [Fact]
    public async Task A_leader_that_cannot_renew_steps_down_by_its_renew_deadline_and_its_token_ends()
    {
        var store = await StoreAsync();
        var metrics = new LeadershipMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry()));
        var (elector, _) = Elector(store, "pod-a", metrics: metrics);
        await elector.RunOnceAsync(Ct);
        var ticket = await elector.WaitForLeadershipAsync(Ct);

        // Pause the store: an exclusive lock makes every write wait.
        await using var blocker = new SqliteConnection($"Data Source={Path.Combine(_directory, "store.db")};Pooling=False");
        await blocker.OpenAsync(Ct);
        await using (var exclusive = blocker.CreateCommand())
        {
            exclusive.CommandText = "BEGIN EXCLUSIVE;";
            await exclusive.ExecuteNonQueryAsync(Ct);
        }

        var attempt = elector.RunOnceAsync(Ct); // waits no longer than the rest of the renew deadline
        Assert.True(elector.IsFreshLeader(ticket.Term)); // the write is still waiting on the lock
        _time.Advance(Fast.RenewDeadline);
        await attempt;

        Assert.False(elector.IsFreshLeader(ticket.Term));
        Assert.False(elector.Snapshot().IsLeader);
        Assert.True(ticket.Token.IsCancellationRequested);
        Assert.NotNull(elector.Snapshot().LastError);
        Assert.Equal(1.0, metrics.RenewFailures.Value);
    }

    [Fact]
    public async Task A_renewal_abandoned_at_the_renew_deadline_never_lands_after_the_step_down()
    {
        var store = new ObservedLeaseStore(await StoreAsync());
        var (elector, _) = Elector(store, "pod-a");
        await elector.RunOnceAsync(Ct);
        var renewed = (await store.ReadAsync("data-manager", Ct))!.RenewedAt;

        await using (var blocker = new SqliteConnection($"Data Source={Path.Combine(_directory, "store.db")};Pooling=False"))
        {
            await blocker.OpenAsync(Ct);
            await using var exclusive = blocker.CreateCommand();
            exclusive.CommandText = "BEGIN EXCLUSIVE;";
            await exclusive.ExecuteNonQueryAsync(Ct);
            var attempt = elector.RunOnceAsync(Ct); // abandoned at the budget: the store's token is cancelled there
            _time.Advance(Fast.RenewDeadline);
            await attempt;
            Assert.False(elector.Snapshot().IsLeader);
            exclusive.CommandText = "ROLLBACK;";
            await exclusive.ExecuteNonQueryAsync(Ct);
        }

        // Had the write gone on waiting for the lock, it would have renewed the lease once the lock was gone,
        // for a pod that stepped down. Wait for that write to end, however it ends, then look.
        await store.LastWriteEnded.WaitAsync(TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(renewed, (await store.ReadAsync("data-manager", Ct))!.RenewedAt);
    }

    [Fact]
    public async Task Another_process_under_the_same_pod_name_follows_until_the_lease_expires_then_leads_with_a_higher_term()
    {
        var store = await StoreAsync();
        var shortLease = new LeaderElectionOptions { HeartbeatInterval = Fast.HeartbeatInterval, RenewDeadline = Fast.RenewDeadline, LeaseTimeout = TimeSpan.FromSeconds(3) };
        var (old, _) = Elector(store, "pod-a", shortLease);
        var (restarted, _) = Elector(store, "pod-a", shortLease);
        await old.RunOnceAsync(Ct);
        Assert.True(old.Snapshot().IsLeader);

        await restarted.RunOnceAsync(Ct);
        Assert.False(restarted.Snapshot().IsLeader);
        Assert.NotEqual(old.Snapshot().Incarnation, restarted.Snapshot().Incarnation);
        Assert.Equal(old.Snapshot().Incarnation, restarted.Snapshot().Lease!.Incarnation);

        // The old process is gone: no renewals. The lease expires on SQLite's clock; until then the restarted one follows.
        await Eventually.UntilAsync("the old incarnation's lease expires and the restarted process takes it", async token =>
        {
            await restarted.RunOnceAsync(token);
            return restarted.Snapshot().IsLeader;
        }, TimeSpan.FromMinutes(1), seen: () => $"lease {restarted.Snapshot().Lease}", cancellationToken: Ct);
        Assert.Equal(2, restarted.Snapshot().Term);
        Assert.Equal("pod-a", restarted.Snapshot().Lease!.Holder);
    }

    [Fact]
    public async Task A_leader_that_was_paused_past_its_deadline_is_not_fresh_even_before_its_timer_fires()
    {
        var store = await StoreAsync();
        // The monotonic clock is a fake one, so a slow machine cannot age the renewal before the first check.
        var time = new FakeTimeProvider();
        var (elector, _) = Elector(store, "pod-a", new LeaderElectionOptions
        {
            HeartbeatInterval = TimeSpan.FromMilliseconds(50),
            RenewDeadline = TimeSpan.FromMilliseconds(150),
            LeaseTimeout = TimeSpan.FromMilliseconds(600),
        }, time: time);
        await elector.RunOnceAsync(Ct);
        Assert.True(elector.IsFreshLeader(1));
        time.Advance(TimeSpan.FromMilliseconds(200)); // the process stands still past its deadline, no timer has run
        Assert.False(elector.IsFreshLeader(1));
        Assert.False(elector.Snapshot().IsLeader);
    }

    [Fact]
    public async Task Store_errors_never_stop_a_follower_and_it_recovers()
    {
        var store = new SqliteTestStore(Path.Combine(_directory, "not-initialised.db"));
        var (elector, _) = Elector(store, "pod-a");
        await elector.RunOnceAsync(Ct); // no table yet: an error, recorded
        Assert.False(elector.Snapshot().IsLeader);
        Assert.Contains("no such table", elector.Snapshot().LastError, StringComparison.Ordinal);

        await store.InitializeAsync(Ct);
        await elector.RunOnceAsync(Ct);
        Assert.True(elector.Snapshot().IsLeader);
        Assert.Null(elector.Snapshot().LastError);
    }

    [Fact]
    public async Task Shutdown_reports_not_leader_first_then_releases_the_lease()
    {
        var store = await StoreAsync();
        var (elector, lifetime) = Elector(store, "pod-a");
        await elector.RunOnceAsync(Ct);
        var ticket = await elector.WaitForLeadershipAsync(Ct);

        lifetime.Stop();
        Assert.False(elector.Snapshot().IsLeader);
        Assert.True(ticket.Token.IsCancellationRequested);
        await elector.RunOnceAsync(Ct); // a late attempt during shutdown must not re-acquire
        Assert.False(elector.Snapshot().IsLeader);

        await elector.StopAsync(Ct);
        var lease = await store.ReadAsync("data-manager", Ct);
        Assert.Equal("pod-a", lease!.Holder);
        Assert.True(lease.ExpiresAt <= DateTimeOffset.UtcNow.AddMilliseconds(50));
    }

    [Fact]
    public async Task Disabled_election_makes_this_replica_leader_without_touching_the_store()
    {
        var store = new SqliteTestStore(Path.Combine(_directory, "never-created.db"));
        var (elector, _) = Elector(store, "solo", new LeaderElectionOptions { Enabled = false });
        await elector.StartAsync(Ct);
        var ticket = await elector.WaitForLeadershipAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(0, ticket.Term);
        Assert.True(elector.IsFreshLeader(0));
        Assert.False(File.Exists(Path.Combine(_directory, "never-created.db")));
        await elector.StopAsync(Ct);
    }

    [Fact]
    public async Task Leader_only_loops_run_only_while_leading_and_stop_when_leadership_ends()
    {
        var store = await StoreAsync();
        var (elector, _) = Elector(store, "pod-a");
        var loop = new CountingLoop();
        var host = new LeaderLoopHost([loop], elector, Ready(), _time, NullLogger<LeaderLoopHost>.Instance);
        await host.StartAsync(Ct); // returns with the loop parked on the leadership wait: it has no ticket to run under
        Assert.Equal(0, loop.Runs);

        await elector.RunOnceAsync(Ct);
        await Eventually.UntilAsync("the loop runs under the new leadership", () => loop.Runs > 0, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        await Eventually.UntilAsync("the loop runs again one interval later", async token =>
        {
            await elector.RunOnceAsync(token); // a renewal, so the leadership stays fresh while the clock moves
            _time.Advance(loop.Interval); // again on every check: the loop may not have begun its wait the first time
            return loop.Runs > 1;
        }, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        Assert.Equal([1L], loop.Terms.Distinct().ToArray());

        await elector.StopAsync(Ct); // steps down and releases
        var runs = loop.Runs;
        _time.Advance(loop.Interval * 10);
        Assert.InRange(loop.Runs, runs, runs + 1);
        Assert.True(loop.LastToken.IsCancellationRequested);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Leader_only_loops_start_only_once_the_store_is_ready_even_with_election_off()
    {
        var store = new SqliteTestStore(Path.Combine(_directory, "late.db"));
        var (elector, _) = Elector(store, "solo", new LeaderElectionOptions { Enabled = false });
        var readiness = new StoreReadiness();
        var loop = new CountingLoop();
        var host = new LeaderLoopHost([loop], elector, readiness, _time, NullLogger<LeaderLoopHost>.Instance);
        await elector.StartAsync(Ct);
        await host.StartAsync(Ct); // returns with the host parked on the store's readiness
        await elector.WaitForLeadershipAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct); // leader at once: term 0
        Assert.Equal(0, loop.Runs); // the store's tables do not exist yet

        await store.InitializeAsync(Ct);
        readiness.MarkReady();
        await Eventually.UntilAsync("the loop runs once the store is ready", () => loop.Runs > 0, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        await host.StopAsync(Ct);
        await elector.StopAsync(Ct);
    }

    [Fact]
    public async Task While_the_store_is_not_ready_the_last_error_says_why_and_the_first_attempt_clears_it()
    {
        var store = new SqliteTestStore(Path.Combine(_directory, "unready.db"));
        var readiness = new StoreReadiness();
        var lifetime = new Lifetime();
        _lifetimes.Add(lifetime);
        using var elector = new LeaderElector(store, Options.Create(Fast), Options.Create(new ServiceOptions { PodId = "pod-a" }), readiness,
            new LeadershipMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())), _time, lifetime, NullLogger<LeaderElector>.Instance);
        await elector.StartAsync(Ct);
        await Eventually.UntilAsync("the elector says it waits for the store", () => elector.Snapshot().LastError == "store not ready: initialising", TimeSpan.FromSeconds(10), cancellationToken: Ct);

        readiness.LastError = "MongoDB 127.0.0.1:1 did not answer within 30 s (server selection timeout: Connection refused)";
        Assert.Equal($"store not ready: {readiness.LastError}", elector.Snapshot().LastError);
        Assert.False(elector.Snapshot().IsLeader);

        await store.InitializeAsync(Ct);
        readiness.LastError = null;
        readiness.MarkReady();
        await elector.WaitForLeadershipAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Null(elector.Snapshot().LastError);
        lifetime.Stop();
        await elector.StopAsync(Ct);
    }

    private static StoreReadiness Ready()
    {
        var readiness = new StoreReadiness();
        readiness.MarkReady();
        return readiness;
    }

    /// <summary>The lease store, with a signal for when its last acquire-or-renew call ended, however it ended.</summary>
    private sealed class ObservedLeaseStore(ILeaseStore inner) : ILeaseStore
    {
        private Task _lastWrite = Task.CompletedTask;

        public Task LastWriteEnded => Volatile.Read(ref _lastWrite).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

        public Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, LeaseClaimant claimant, TimeSpan duration, CancellationToken cancellationToken)
        {
            var write = inner.TryAcquireOrRenewAsync(name, claimant, duration, cancellationToken);
            Volatile.Write(ref _lastWrite, write);
            return write;
        }

        public Task ReleaseAsync(string name, LeaseClaimant claimant, CancellationToken cancellationToken) => inner.ReleaseAsync(name, claimant, cancellationToken);

        public Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) => inner.ReadAsync(name, cancellationToken);
    }

    private sealed class CountingLoop : ILeaderLoop
    {
        private int _runs;

        public int Runs => Volatile.Read(ref _runs);

        public List<long> Terms { get; } = [];

        public CancellationToken LastToken { get; private set; }

        public string Name => "counting";

        public TimeSpan InitialDelay => TimeSpan.Zero;

        public TimeSpan Interval => TimeSpan.FromMilliseconds(20);

        public Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken)
        {
            lock (Terms)
            {
                Terms.Add(leadership.Term);
            }

            LastToken = cancellationToken;
            Interlocked.Increment(ref _runs);
            return Task.CompletedTask;
        }
    }

    internal sealed class Lifetime : IHostApplicationLifetime
    {
        private readonly CancellationTokenSource _stopping = new();

        public CancellationToken ApplicationStarted { get; } = new(canceled: true);

        public CancellationToken ApplicationStopping => _stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => _stopping.Cancel();

        public void Stop() => _stopping.Cancel();
    }

    public void Dispose()
    {
        CandleDatabases.RemoveDirectory(_directory);
    }
}
