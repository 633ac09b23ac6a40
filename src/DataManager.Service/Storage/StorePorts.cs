using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;

namespace DataManager.Storage;

// The contract every store keeps (StoreContractTests runs it on SQLite and MongoDB):
// - Batch inserts (audits, health points, analytics, archive) are idempotent on the record id: a record whose id
//   is stored is skipped and the rest of the batch lands, so a batch retried after a timeout completes without
//   duplicates. SQLite writes a batch in one transaction; MongoDB unordered, so a failed batch may be partly
//   stored until it is retried.
// - Times read back as whole milliseconds in UTC (what a BSON date holds).
// - Newest-first lists and "latest" answers order by time, then id ascending.

public interface IAuditStore
{
    /// <summary>Idempotent on the record id (see the contract above).</summary>
    Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken);

    /// <summary>Newest first (ties by id), filtered and paged.</summary>
    Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken);

    /// <summary>The newest audit of every series that has one (of two at one time, the lower id).</summary>
    Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken);

    Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken);

    /// <summary>The newest cycles, newest first (the newest may still be running, or abandoned by a lost leader).</summary>
    Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken);

    Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken);
}

public interface IHealthScoreStore
{
    /// <summary>Idempotent on the record id.</summary>
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
    /// <summary>Idempotent on the record id.</summary>
    Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken);

    /// <summary>The newest result of every metric group of a series (of two at one time, the lower id).</summary>
    Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken);

    Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken);
}

public interface ICandleArchiveStore
{
    /// <summary>Idempotent on the record id.</summary>
    Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken);

    Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken);
}

/// <summary>
/// The leader lease. Both writes are one atomic conditional write timed by the database's clock, never
/// the pod's: a renewal (same holder and same incarnation, unexpired) keeps the term; any acquisition after
/// expiry or release increases it by one, so a new process incarnation never inherits a term. Callers pass a
/// token cancelled at their time budget: the store abandons the write there (a late write must not land after
/// the caller stepped down).
/// </summary>
public interface ILeaseStore
{
    Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, LeaseClaimant claimant, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Expires the lease now if <paramref name="claimant"/> (holder and incarnation) holds it, keeping both on record.</summary>
    Task ReleaseAsync(string name, LeaseClaimant claimant, CancellationToken cancellationToken);

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
