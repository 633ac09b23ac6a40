using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using DataManager.Storage;
using DataManager.Storage.Sqlite;

namespace DataManager.Testing;

/// <summary>
/// Every port of the embedded store over one file, as the service registers them, in one object for tests and
/// benchmarks that drive several ports of one store (the service itself injects each port on its own).
/// </summary>
public sealed class SqliteTestStore(string path) : IAuditStore, IHealthScoreStore, IBackfillJobStore, IAnalyticsStore, ICandleArchiveStore, ILeaseStore, IStoreLifecycle
{
    public SqliteDatabase Database { get; } = new(path);

    public string Path => Database.Path;

    public SqliteAuditStore Audits => new(Database);

    public SqliteHealthScoreStore HealthScores => new(Database);

    public SqliteBackfillJobStore Jobs => new(Database);

    public SqliteAnalyticsStore Analytics => new(Database);

    public SqliteCandleArchiveStore Archive => new(Database);

    public SqliteLeaseStore Leases => new(Database);

    public SqliteStoreLifecycle Lifecycle => new(Database);

    public SqliteIncidentStore Incidents => new(Database);

    public string Describe() => Lifecycle.Describe();

    public Task InitializeAsync(CancellationToken cancellationToken) => Lifecycle.InitializeAsync(cancellationToken);

    public Task PingAsync(CancellationToken cancellationToken) => Lifecycle.PingAsync(cancellationToken);

    public Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken) => Audits.InsertAsync(records, cancellationToken);

    public Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) => Audits.QueryAsync(query, cancellationToken);

    public Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken) => Audits.LatestPerSeriesAsync(cancellationToken);

    public Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken) => Audits.SaveCycleAsync(cycle, cancellationToken);

    public Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken) => Audits.RecentCyclesAsync(limit, cancellationToken);

    Task<long> IAuditStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) => Audits.PruneAsync(olderThan, cancellationToken);

    public Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken) => HealthScores.AppendAsync(scores, cancellationToken);

    public Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        HealthScores.HistoryAsync(symbol, timeframe, from, to, limit, cancellationToken);

    Task<long> IHealthScoreStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) => HealthScores.PruneAsync(olderThan, cancellationToken);

    public Task CreateAsync(BackfillJob job, CancellationToken cancellationToken) => Jobs.CreateAsync(job, cancellationToken);

    public Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) => Jobs.GetAsync(id, cancellationToken);

    public Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) => Jobs.ListAsync(state, limit, cancellationToken);

    public Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
        Jobs.ListNewestAsync(state, after, limit, cancellationToken);

    public Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) => Jobs.PruneFinishedAsync(createdBefore, cancellationToken);

    public Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken) => Jobs.CountByStateAsync(cancellationToken);

    public Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken) => Jobs.TryUpdateAsync(job, expectedVersion, cancellationToken);

    public Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken) => Analytics.InsertAsync(results, cancellationToken);

    public Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken) => Analytics.LatestAsync(symbol, timeframe, cancellationToken);

    public Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        Analytics.HistoryAsync(symbol, timeframe, metric, from, to, limit, cancellationToken);

    Task<long> IAnalyticsStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) => Analytics.PruneAsync(olderThan, cancellationToken);

    public Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken) => Archive.ArchiveAsync(rows, cancellationToken);

    public Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken) => Archive.ListAsync(symbol, timeframe, cancellationToken);

    public Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, LeaseClaimant claimant, TimeSpan duration, CancellationToken cancellationToken) =>
        Leases.TryAcquireOrRenewAsync(name, claimant, duration, cancellationToken);

    public Task ReleaseAsync(string name, LeaseClaimant claimant, CancellationToken cancellationToken) => Leases.ReleaseAsync(name, claimant, cancellationToken);

    public Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) => Leases.ReadAsync(name, cancellationToken);
}
