using DataManager.Configuration;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Leadership;

/// <summary>This replica's current standing, as /health/leader reports it.</summary>
public sealed record LeadershipSnapshot(bool Enabled, bool IsLeader, string PodId, long Term, LeaseRecord? Lease, string? LastError, string Incarnation);

/// <summary>What leader-only work runs under: the term to stamp on records, and a token cancelled when leadership ends.</summary>
public readonly record struct LeadershipTicket(long Term, CancellationToken Token);

/// <summary>
/// Keeps this replica's claim on the one lease. Every attempt is one atomic conditional write timed by the
/// store's clock. Leadership lasts while renewals succeed: a leader that cannot renew within the renew
/// deadline (measured on the monotonic clock, from the moment its last successful renewal was sent) steps
/// down on its own, before the lease it holds can expire and be taken by another replica.
/// </summary>
public sealed partial class LeaderElector : BackgroundService
{
    private readonly ILeaseStore _store;
    private readonly LeaderElectionOptions _options;
    private readonly string _podId;
    private readonly LeaseClaimant _claimant;
    private readonly StoreReadiness _storeReadiness;
    private readonly TimeProvider _time;
    private readonly ILogger<LeaderElector> _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly LeadershipMetrics _metrics;
    private readonly Lock _gate = new();

    private TaskCompletionSource<LeadershipTicket> _leadership = NewLeadershipSource();
    private CancellationTokenSource? _leadershipCts;
    private bool _isLeader;
    private bool _stopping;
    private long _term;
    private long _lastRenewSent;
    private LeaseRecord? _lease;
    private long _followedTerm = -1;
    private string? _lastError;
    private int _attempted;

    public LeaderElector(
        ILeaseStore store,
        IOptions<LeaderElectionOptions> options,
        IOptions<ServiceOptions> service,
        StoreReadiness storeReadiness,
        LeadershipMetrics metrics,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        ILogger<LeaderElector> logger)
    {
        _store = store;
        _options = options.Value;
        _podId = service.Value.PodId;
        _claimant = new LeaseClaimant(_podId, service.Value.Incarnation);
        _storeReadiness = storeReadiness;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _lifetime = lifetime;
        // Report "not leader" and stop leader-only work the moment shutdown begins; the lease is released
        // in StopAsync, after the leader-only loops have stopped.
        lifetime.ApplicationStopping.Register(() =>
        {
            lock (_gate)
            {
                _stopping = true;
            }

            StepDown("shutting down");
        });
    }

    public string PodId => _podId;

    public bool Enabled => _options.Enabled;

    public LeadershipSnapshot Snapshot()
    {
        lock (_gate)
        {
            // No attempt is made before the store is initialised: until then the store's reason is the last error.
            var lastError = _options.Enabled && Volatile.Read(ref _attempted) == 0 && !_storeReadiness.IsReady
                ? $"store not ready: {_storeReadiness.LastError ?? "initialising"}"
                : _lastError;
            return new LeadershipSnapshot(_options.Enabled, _isLeader, _podId, _term, _lease, lastError, _claimant.Incarnation);
        }
    }

    /// <summary>Completes when this replica is (or becomes) leader.</summary>
    public Task<LeadershipTicket> WaitForLeadershipAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _leadership.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Confirms, before a unit of leader-only work, that this replica still leads under <paramref name="term"/>
    /// and that its last successful renewal is younger than the renew deadline. A process that was paused
    /// (SIGSTOP, a long GC) fails this check and steps down instead of acting on a stale lease.
    /// </summary>
    public bool IsFreshLeader(long term)
    {
        lock (_gate)
        {
            if (!_isLeader || _term != term)
            {
                return false;
            }

            if (!_options.Enabled || _time.GetElapsedTime(_lastRenewSent) < _options.RenewDeadline)
            {
                return true;
            }
        }

        StepDown("no successful renewal within the renew deadline");
        return false;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            LogElectionDisabled(_logger, _podId);
            Become(0);
            return;
        }

        try
        {
            // Elect only once the HTTP port is bound: a start that fails (port taken) must not leave a lease behind.
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (_lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stoppingToken);
            }

            await _storeReadiness.WaitAsync(stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                await RunOnceAsync(stoppingToken);
                await Task.Delay(NextDelay(), _time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown, or a start that failed before the host called StopAsync: not a fault.
        }
    }

    /// <summary>One acquire-or-renew attempt and the transition it implies.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        bool wasLeader;
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            wasLeader = _isLeader;
        }

        Volatile.Write(ref _attempted, 1);
        var sent = _time.GetTimestamp();
        // A leader waits no longer than its renew deadline allows; a follower no longer than a lease lasts.
        var budget = wasLeader ? _options.RenewDeadline - _time.GetElapsedTime(_lastRenewSent) : _options.LeaseTimeout;
        try
        {
            var attempt = await WithinBudgetAsync(
                token => _store.TryAcquireOrRenewAsync(_options.ElectionName, _claimant, _options.LeaseTimeout, token),
                budget > TimeSpan.Zero ? budget : TimeSpan.FromMilliseconds(1),
                cancellationToken);
            lock (_gate)
            {
                _lease = attempt.Lease;
                _lastError = null;
            }

            if (attempt is { IsHolder: true, Lease: { } lease })
            {
                Renewed(lease.Term, sent);
            }
            else
            {
                if (wasLeader)
                {
                    StepDown($"lease now held by {attempt.Lease?.Holder ?? "nobody"}");
                }

                // Once per term, so operators see every replica's role in its logs (rollout phase 3).
                if (attempt.Lease is { } other && Interlocked.Exchange(ref _followedTerm, other.Term) != other.Term)
                {
                    LogFollowing(_logger, _podId, other.Holder, other.Term);
                }
            }

            _metrics.LeaderTerm.Set(attempt.Lease?.Term ?? 0);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _metrics.RenewFailures.Inc();
            var message = e is TimeoutException or OperationCanceledException ? "lease write timed out" : StoreErrorText.OneLine(e);
            lock (_gate)
            {
                _lastError = message;
            }

            if (wasLeader && _time.GetElapsedTime(_lastRenewSent) >= _options.RenewDeadline)
            {
                StepDown($"could not renew within {_options.RenewDeadline.TotalSeconds} s ({message})");
            }
            else
            {
                LogAttemptFailed(_logger, message);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        StepDown("shutting down");
        await base.StopAsync(cancellationToken);
        if (_options.Enabled && Volatile.Read(ref _attempted) == 1)
        {
            try
            {
                // Expire the lease now (keeping this pod on record) so another replica takes over within
                // about one heartbeat instead of one lease timeout.
                await WithinBudgetAsync(
                    async token =>
                    {
                        await _store.ReleaseAsync(_options.ElectionName, _claimant, token);
                        return true;
                    },
                    TimeSpan.FromSeconds(5),
                    cancellationToken);
                LogReleased(_logger, _podId);
            }
            catch (Exception e)
            {
                LogReleaseFailed(_logger, e.Message);
            }
        }
    }

    /// <summary>
    /// One lease call, off-thread (so the budget holds even for a store whose "async" calls block, SQLite waiting
    /// on a lock), given a token that is cancelled when the budget ends. The call itself is cancelled then, not
    /// only no longer awaited: a write that landed after this replica stepped down would renew a lease nobody
    /// acts on, and abandoned calls would pile up on pooled connections.
    /// </summary>
    private async Task<T> WithinBudgetAsync<T>(Func<CancellationToken, Task<T>> call, TimeSpan budget, CancellationToken cancellationToken)
    {
        var budgetToken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = Task.Run(() => call(budgetToken.Token), budgetToken.Token);
        // Disposed when the call ends, not when this method returns: the call may outlive the wait.
        _ = running.ContinueWith(_ => budgetToken.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            return await running.WaitAsync(budget, _time, cancellationToken);
        }
        catch
        {
            try
            {
                await budgetToken.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // The call already ended.
            }

            throw;
        }
    }

    private TimeSpan NextDelay()
    {
        lock (_gate)
        {
            if (_isLeader)
            {
                // Wake by the renew deadline at the latest, so a failing leader steps down on time.
                var left = _options.RenewDeadline - _time.GetElapsedTime(_lastRenewSent);
                return left < _options.HeartbeatInterval && left > TimeSpan.Zero ? left : _options.HeartbeatInterval;
            }
        }

        // Followers retry every heartbeat with jitter (never longer than one heartbeat).
        return _options.HeartbeatInterval * (0.8 + (0.2 * Random.Shared.NextDouble()));
    }

    private void Renewed(long term, long sent)
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            if (_isLeader && _term == term)
            {
                _lastRenewSent = sent;
                // The leadership token ends by itself at the renew deadline unless renewed again.
                _leadershipCts?.CancelAfter(UntilDeadline(sent));
                return;
            }
        }

        if (Snapshot().IsLeader)
        {
            StepDown($"term changed to {term}");
        }

        Become(term, sent);
    }

    private void Become(long term, long? sent = null)
    {
        LeadershipTicket ticket;
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _isLeader = true;
            _term = term;
            _lastRenewSent = sent ?? _time.GetTimestamp();
            _leadershipCts = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
            if (_options.Enabled)
            {
                _leadershipCts.CancelAfter(UntilDeadline(_lastRenewSent));
                _leadershipCts.Token.Register(() => StepDown("no successful renewal within the renew deadline"));
            }

            ticket = new LeadershipTicket(term, _leadershipCts.Token);
            _leadership.TrySetResult(ticket);
        }

        _metrics.LeaderStatus.Set(1);
        _metrics.LeaderTerm.Set(term);
        _metrics.Transitions.Inc();
        LogBecameLeader(_logger, _podId, term);
    }

    private void StepDown(string reason)
    {
        CancellationTokenSource? cts;
        long term;
        lock (_gate)
        {
            if (!_isLeader)
            {
                return;
            }

            _isLeader = false;
            term = _term;
            cts = _leadershipCts;
            _leadershipCts = null;
            _leadership = NewLeadershipSource();
        }

        _metrics.LeaderStatus.Set(0);
        _metrics.Transitions.Inc();
        LogSteppedDown(_logger, _podId, term, reason);
        try
        {
            cts?.Cancel();
        }
        catch (AggregateException)
        {
            // A leader-only loop's cancellation callback threw; it is stopping either way.
        }
    }

    private TimeSpan UntilDeadline(long renewSent)
    {
        var left = _options.RenewDeadline - _time.GetElapsedTime(renewSent);
        return left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
    }

    private static TaskCompletionSource<LeadershipTicket> NewLeadershipSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Dispose()
    {
        _leadershipCts?.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Leader election disabled (ENABLE_LEADER_ELECTION=false): {PodId} is always leader")]
    private static partial void LogElectionDisabled(ILogger logger, string podId);

    [LoggerMessage(Level = LogLevel.Information, Message = "LEADER: {PodId} became leader with term {Term}")]
    private static partial void LogBecameLeader(ILogger logger, string podId, long term);

    [LoggerMessage(Level = LogLevel.Information, Message = "FOLLOWER: {PodId} stopped leading term {Term}: {Reason}")]
    private static partial void LogSteppedDown(ILogger logger, string podId, long term, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "FOLLOWER: {PodId} follows {Holder} (term {Term})")]
    private static partial void LogFollowing(ILogger logger, string podId, string holder, long term);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease attempt failed: {Error}")]
    private static partial void LogAttemptFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Released the lease held by {PodId}")]
    private static partial void LogReleased(ILogger logger, string podId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the lease on shutdown: {Error}")]
    private static partial void LogReleaseFailed(ILogger logger, string error);
}
