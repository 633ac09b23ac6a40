using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;

namespace DataManager.Storage;

public interface IAuditStore
{
    Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken);

    /// <summary>Newest first, filtered and paged.</summary>
    Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken);

    /// <summary>The newest audit of every series that has one.</summary>
    Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken);

    Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken);

    /// <summary>The newest cycles, newest first (the newest may still be running, or abandoned by a lost leader).</summary>
    Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken);

    Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken);
}

public interface IHealthScoreStore
{
    Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken);

    Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken);
}

public interface IBackfillJobStore
{
    Task CreateAsync(BackfillJob job, CancellationToken cancellationToken);

    Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Oldest first, optionally of one state.</summary>
    Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken);

    /// <summary>Newest first (created, then id, descending), optionally of one state, strictly after <paramref name="after"/> in that order.</summary>
    Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes completed, failed and cancelled jobs created before <paramref name="createdBefore"/>; pending and running jobs stay.</summary>
    Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken);

    /// <summary>How many jobs are in each state (states without jobs are absent): one query, whatever the history.</summary>
    Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken);

    /// <summary>Replaces the job if its stored version is <paramref name="expectedVersion"/>; the stored version becomes expectedVersion + 1.</summary>
    Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken);
}

public interface IAnalyticsStore
{
    Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken);

    /// <summary>The newest result of every metric group of a series.</summary>
    Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken);

    Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken);
}

public interface ICandleArchiveStore
{
    Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken);

    Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken);
}

/// <summary>
/// The leader lease. Both writes are one atomic conditional write timed by the database's clock, never
/// the pod's: a renewal keeps the term, any acquisition after expiry or release increases it by one.
/// </summary>
public interface ILeaseStore
{
    Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Expires the lease now if <paramref name="holder"/> holds it, keeping the holder on record.</summary>
    Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken);

    Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken);
}

/// <summary>Start-up and health of the store as a whole.</summary>
public interface IStoreLifecycle
{
    string Describe();

    /// <summary>Creates tables or collections and indexes; safe to run from several processes at once.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task PingAsync(CancellationToken cancellationToken);
}
