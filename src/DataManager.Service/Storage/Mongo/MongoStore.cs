using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using MongoDB.Bson;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>
/// The production store: one collection per record kind, majority writes and reads, indexes created at start.
/// Batch inserts are unordered and idempotent: a record whose id is already stored is skipped, so a retry of
/// a batch that partly landed completes it instead of failing.
/// </summary>
public sealed class MongoStore : IAuditStore, IHealthScoreStore, IBackfillJobStore, IAnalyticsStore, ICandleArchiveStore, ILeaseStore, IStoreLifecycle
{
    private readonly IMongoDatabase _database;
    private readonly string _description;

    public MongoStore(IMongoClient client, string databaseName)
    {
        MongoMapping.EnsureRegistered();
        _database = client.GetDatabase(databaseName)
            .WithWriteConcern(WriteConcern.WMajority)
            .WithReadConcern(ReadConcern.Majority);
        _description = $"MongoDB database '{databaseName}'";
        Audits = _database.GetCollection<AuditRecord>(MongoQueries.AuditsCollection);
        Cycles = _database.GetCollection<AuditCycleRecord>(MongoQueries.CyclesCollection);
        HealthScores = _database.GetCollection<HealthScoreRecord>(MongoQueries.HealthScoresCollection);
        Jobs = _database.GetCollection<BackfillJob>(MongoQueries.JobsCollection);
        Analytics = _database.GetCollection<AnalyticsResult>(MongoQueries.AnalyticsCollection);
        Archive = _database.GetCollection<ArchivedCandle>(MongoQueries.ArchiveCollection);
        Leases = _database.GetCollection<LeaseRecord>(MongoQueries.LeasesCollection);
    }

    internal IMongoCollection<AuditRecord> Audits { get; }

    internal IMongoCollection<AuditCycleRecord> Cycles { get; }

    internal IMongoCollection<HealthScoreRecord> HealthScores { get; }

    internal IMongoCollection<BackfillJob> Jobs { get; }

    internal IMongoCollection<AnalyticsResult> Analytics { get; }

    internal IMongoCollection<ArchivedCandle> Archive { get; }

    internal IMongoCollection<LeaseRecord> Leases { get; }

    public string Describe() => _description;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // Creating an existing index with the same definition is a no-op, so every replica may run this.
        foreach (var (collection, indexes) in MongoQueries.Indexes)
        {
            var raw = _database.GetCollection<BsonDocument>(collection);
            if (indexes.Count > 0)
            {
                await raw.Indexes.CreateManyAsync(indexes.Select(keys => new CreateIndexModel<BsonDocument>(keys)), cancellationToken);
            }

            foreach (var superseded in MongoQueries.SupersededIndexes.GetValueOrDefault(collection) ?? [])
            {
                try
                {
                    await raw.Indexes.DropOneAsync(superseded, cancellationToken);
                }
                catch (MongoCommandException e) when (e.CodeName is "IndexNotFound" or "NamespaceNotFound")
                {
                    // Never created, or another replica dropped it first.
                }
            }
        }
    }

    /// <summary>
    /// Reachability, not primary availability: <c>ping</c> is answered by any member of the replica set, so
    /// during an election (no primary for a few seconds) the pods stay ready and keep serving reads; the
    /// lease simply cannot be renewed until a primary exists.
    /// </summary>
    public Task PingAsync(CancellationToken cancellationToken) =>
        _database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), ReadPreference.PrimaryPreferred, cancellationToken);

    private static async Task InsertIdempotentAsync<T>(IMongoCollection<T> collection, IReadOnlyList<T> documents, CancellationToken cancellationToken)
    {
        if (documents.Count == 0)
        {
            return;
        }

        try
        {
            await collection.InsertManyAsync(documents, new InsertManyOptions { IsOrdered = false }, cancellationToken);
        }
        catch (MongoBulkWriteException<T> e) when (e.WriteConcernError is null && e.WriteErrors.All(w => w.Category == ServerErrorCategory.DuplicateKey))
        {
            // Unordered: every other document was inserted; the duplicates are already stored under their ids.
        }
    }

    // ---- audits -------------------------------------------------------------------------------

    public Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken) =>
        InsertIdempotentAsync(Audits, records, cancellationToken);

    public async Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
        await Audits.Find(MongoQueries.Audits(query))
            .Sort(MongoQueries.AuditsNewestFirst)
            .Skip(query.Skip).Limit(query.Limit)
            .ToListAsync(cancellationToken);

    public async Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken)
    {
        var latest = await (await Audits.AggregateAsync(MongoQueries.AuditsLatestPerSeries(), cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        return [.. latest.OrderBy(a => a.Symbol, StringComparer.Ordinal).ThenBy(a => a.Timeframe, StringComparer.Ordinal)];
    }

    public Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken) =>
        Cycles.ReplaceOneAsync(MongoQueries.CycleById(cycle.Id), cycle, new ReplaceOptions { IsUpsert = true }, cancellationToken);

    public async Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken) =>
        await Cycles.Find(FilterDefinition<AuditCycleRecord>.Empty).Sort(MongoQueries.CyclesNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    async Task<long> IAuditStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await Audits.DeleteManyAsync(MongoQueries.AuditsOlderThan(olderThan), cancellationToken)).DeletedCount
        + (await Cycles.DeleteManyAsync(MongoQueries.CyclesOlderThan(olderThan), cancellationToken)).DeletedCount;

    // ---- health scores ------------------------------------------------------------------------

    public Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken) =>
        InsertIdempotentAsync(HealthScores, scores, cancellationToken);

    public async Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        await HealthScores.Find(MongoQueries.HealthHistory(symbol, timeframe, from, to)).Sort(MongoQueries.HealthNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    async Task<long> IHealthScoreStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await HealthScores.DeleteManyAsync(MongoQueries.HealthOlderThan(olderThan), cancellationToken)).DeletedCount;

    // ---- backfill jobs ------------------------------------------------------------------------

    public Task CreateAsync(BackfillJob job, CancellationToken cancellationToken) =>
        Jobs.InsertOneAsync(job, cancellationToken: cancellationToken);

    public async Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) =>
        await Jobs.Find(MongoQueries.JobById(id)).FirstOrDefaultAsync(cancellationToken);

    public async Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) =>
        await Jobs.Find(MongoQueries.JobsInState(state)).Sort(MongoQueries.JobsOldestFirst).Limit(limit).ToListAsync(cancellationToken);

    public async Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
        await Jobs.Find(MongoQueries.JobsInStateAfter(state, after)).Sort(MongoQueries.JobsNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    public async Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) =>
        (await Jobs.DeleteManyAsync(MongoQueries.FinishedJobsCreatedBefore(createdBefore), cancellationToken)).DeletedCount;

    public async Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken)
    {
        var groups = await (await Jobs.AggregateAsync(MongoQueries.JobCountsByState(), cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        return groups.ToDictionary(g => Enum.Parse<BackfillJobState>(g["_id"].AsString), g => g["count"].ToInt64());
    }

    public async Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken)
    {
        var result = await Jobs.ReplaceOneAsync(MongoQueries.JobAtVersion(job.Id, expectedVersion), job with { Version = expectedVersion + 1 }, cancellationToken: cancellationToken);
        return result.ModifiedCount == 1;
    }

    // ---- analytics ----------------------------------------------------------------------------

    public Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken) =>
        InsertIdempotentAsync(Analytics, results, cancellationToken);

    public async Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken)
    {
        var latest = await (await Analytics.AggregateAsync(MongoQueries.AnalyticsLatest(symbol, timeframe), cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        return [.. latest.OrderBy(a => a.Metric, StringComparer.Ordinal)];
    }

    public async Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        await Analytics.Find(MongoQueries.AnalyticsHistory(symbol, timeframe, metric, from, to)).Sort(MongoQueries.AnalyticsNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    async Task<long> IAnalyticsStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await Analytics.DeleteManyAsync(MongoQueries.AnalyticsOlderThan(olderThan), cancellationToken)).DeletedCount;

    // ---- candle archive -----------------------------------------------------------------------

    public Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken) =>
        InsertIdempotentAsync(Archive, rows, cancellationToken);

    public async Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken) =>
        await Archive.Find(MongoQueries.ArchiveOf(symbol, timeframe)).Sort(MongoQueries.ArchiveOldestFirst).ToListAsync(cancellationToken);

    // ---- leader lease -------------------------------------------------------------------------

    public async Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, LeaseClaimant claimant, TimeSpan duration, CancellationToken cancellationToken)
    {
        try
        {
            var lease = await Leases.FindOneAndUpdateAsync(
                MongoQueries.LeaseById(name),
                MongoQueries.LeaseAcquireOrRenew(claimant, duration),
                new FindOneAndUpdateOptions<LeaseRecord> { IsUpsert = true, ReturnDocument = ReturnDocument.After },
                cancellationToken);
            return new LeaseAttempt(lease is not null && lease.Holder == claimant.Holder && lease.Incarnation == claimant.Incarnation, lease);
        }
        catch (MongoCommandException e) when (e.Code == 11000)
        {
            // Fallback only: the server retries an _id-equality upsert that hits a duplicate key itself. A
            // racer inserted first; read what it wrote.
        }
        catch (MongoWriteException e) when (e.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
        }

        return new LeaseAttempt(false, await ReadAsync(name, cancellationToken));
    }

    public Task ReleaseAsync(string name, LeaseClaimant claimant, CancellationToken cancellationToken) =>
        Leases.UpdateOneAsync(MongoQueries.LeaseHeldBy(name, claimant), MongoQueries.LeaseRelease(), cancellationToken: cancellationToken);

    public async Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) =>
        await Leases.Find(MongoQueries.LeaseById(name)).FirstOrDefaultAsync(cancellationToken);
}
