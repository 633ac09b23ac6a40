using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using MongoDB.Bson;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>The production store: one collection per record kind, majority writes, indexes created at start.</summary>
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
        Audits = _database.GetCollection<AuditRecord>("audits");
        Cycles = _database.GetCollection<AuditCycleRecord>("audit_cycles");
        HealthScores = _database.GetCollection<HealthScoreRecord>("health_scores");
        Jobs = _database.GetCollection<BackfillJob>("backfill_jobs");
        Analytics = _database.GetCollection<AnalyticsResult>("analytics_results");
        Archive = _database.GetCollection<ArchivedCandle>("candle_archive");
        Leases = _database.GetCollection<LeaseRecord>("leader_election");
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
        await Audits.Indexes.CreateManyAsync(
        [
            new CreateIndexModel<AuditRecord>(Builders<AuditRecord>.IndexKeys.Ascending(a => a.Symbol).Ascending(a => a.Timeframe).Descending(a => a.AuditedAt)),
            new CreateIndexModel<AuditRecord>(Builders<AuditRecord>.IndexKeys.Descending(a => a.AuditedAt)),
        ], cancellationToken);
        await Cycles.Indexes.CreateOneAsync(new CreateIndexModel<AuditCycleRecord>(Builders<AuditCycleRecord>.IndexKeys.Descending(c => c.StartedAt)), cancellationToken: cancellationToken);
        await HealthScores.Indexes.CreateOneAsync(new CreateIndexModel<HealthScoreRecord>(
            Builders<HealthScoreRecord>.IndexKeys.Ascending(h => h.Symbol).Ascending(h => h.Timeframe).Descending(h => h.At)), cancellationToken: cancellationToken);
        await Jobs.Indexes.CreateOneAsync(new CreateIndexModel<BackfillJob>(
            Builders<BackfillJob>.IndexKeys.Ascending(j => j.State).Ascending(j => j.CreatedAt)), cancellationToken: cancellationToken);
        await Analytics.Indexes.CreateOneAsync(new CreateIndexModel<AnalyticsResult>(
            Builders<AnalyticsResult>.IndexKeys.Ascending(a => a.Symbol).Ascending(a => a.Timeframe).Ascending(a => a.Metric).Descending(a => a.ComputedAt)), cancellationToken: cancellationToken);
        await Archive.Indexes.CreateOneAsync(new CreateIndexModel<ArchivedCandle>(
            Builders<ArchivedCandle>.IndexKeys.Ascending("row.symbol").Ascending(a => a.Timeframe).Ascending(a => a.RemovedAt)), cancellationToken: cancellationToken);
        // leader_election: one document per election name keyed by _id; deliberately no TTL index.
    }

    public Task PingAsync(CancellationToken cancellationToken) =>
        _database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: cancellationToken);

    // ---- audits -------------------------------------------------------------------------------

    public Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken) =>
        records.Count == 0 ? Task.CompletedTask : Audits.InsertManyAsync(records, cancellationToken: cancellationToken);

    public async Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
        await Audits.Find(MongoQueries.Audits(query))
            .SortByDescending(a => a.AuditedAt).ThenBy(a => a.Id)
            .Skip(query.Skip).Limit(query.Limit)
            .ToListAsync(cancellationToken);

    public async Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken)
    {
        var latest = await Audits.Aggregate()
            .SortByDescending(a => a.AuditedAt)
            .Group(new BsonDocument { { "_id", new BsonDocument { { "s", "$symbol" }, { "t", "$timeframe" } } }, { "doc", new BsonDocument("$first", "$$ROOT") } })
            .ReplaceRoot<AuditRecord>("$doc")
            .ToListAsync(cancellationToken);
        return [.. latest.OrderBy(a => a.Symbol, StringComparer.Ordinal).ThenBy(a => a.Timeframe, StringComparer.Ordinal)];
    }

    public Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken) =>
        Cycles.ReplaceOneAsync(c => c.Id == cycle.Id, cycle, new ReplaceOptions { IsUpsert = true }, cancellationToken);

    public async Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken) =>
        await Cycles.Find(FilterDefinition<AuditCycleRecord>.Empty).SortByDescending(c => c.StartedAt).ThenByDescending(c => c.Id).Limit(limit).ToListAsync(cancellationToken);

    async Task<long> IAuditStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await Audits.DeleteManyAsync(a => a.AuditedAt < olderThan, cancellationToken)).DeletedCount
        + (await Cycles.DeleteManyAsync(c => c.StartedAt < olderThan, cancellationToken)).DeletedCount;

    // ---- health scores ------------------------------------------------------------------------

    public Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken) =>
        scores.Count == 0 ? Task.CompletedTask : HealthScores.InsertManyAsync(scores, cancellationToken: cancellationToken);

    public async Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        await HealthScores.Find(MongoQueries.HealthHistory(symbol, timeframe, from, to)).SortByDescending(h => h.At).Limit(limit).ToListAsync(cancellationToken);

    async Task<long> IHealthScoreStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await HealthScores.DeleteManyAsync(h => h.At < olderThan, cancellationToken)).DeletedCount;

    // ---- backfill jobs ------------------------------------------------------------------------

    public Task CreateAsync(BackfillJob job, CancellationToken cancellationToken) =>
        Jobs.InsertOneAsync(job, cancellationToken: cancellationToken);

    public async Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) =>
        await Jobs.Find(j => j.Id == id).FirstOrDefaultAsync(cancellationToken);

    public async Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) =>
        await Jobs.Find(MongoQueries.JobsInState(state)).SortBy(j => j.CreatedAt).ThenBy(j => j.Id).Limit(limit).ToListAsync(cancellationToken);

    public async Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
        await Jobs.Find(MongoQueries.JobsInStateAfter(state, after)).SortByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id).Limit(limit).ToListAsync(cancellationToken);

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
        results.Count == 0 ? Task.CompletedTask : Analytics.InsertManyAsync(results, cancellationToken: cancellationToken);

    public async Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken)
    {
        var latest = await Analytics.Aggregate()
            .Match(a => a.Symbol == symbol && a.Timeframe == timeframe)
            .SortByDescending(a => a.ComputedAt)
            .Group(new BsonDocument { { "_id", "$metric" }, { "doc", new BsonDocument("$first", "$$ROOT") } })
            .ReplaceRoot<AnalyticsResult>("$doc")
            .ToListAsync(cancellationToken);
        return [.. latest.OrderBy(a => a.Metric, StringComparer.Ordinal)];
    }

    public async Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        await Analytics.Find(MongoQueries.AnalyticsHistory(symbol, timeframe, metric, from, to)).SortByDescending(a => a.ComputedAt).Limit(limit).ToListAsync(cancellationToken);

    async Task<long> IAnalyticsStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await Analytics.DeleteManyAsync(a => a.ComputedAt < olderThan, cancellationToken)).DeletedCount;

    // ---- candle archive -----------------------------------------------------------------------

    public async Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        try
        {
            await Archive.InsertManyAsync(rows, new InsertManyOptions { IsOrdered = false }, cancellationToken);
        }
        catch (MongoBulkWriteException e) when (e.WriteErrors.All(w => w.Category == ServerErrorCategory.DuplicateKey) && e.WriteConcernError is null)
        {
            // Archived before (an id is the row's content): the archive keeps its first copy.
        }
    }

    public async Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken) =>
        await Archive.Find(a => a.Row.Symbol == symbol && a.Timeframe == timeframe).SortBy(a => a.RemovedAt).ThenBy(a => a.Id).ToListAsync(cancellationToken);

    // ---- leader lease -------------------------------------------------------------------------

    public async Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        try
        {
            var lease = await Leases.FindOneAndUpdateAsync(
                MongoQueries.LeaseAcquirable(name, holder),
                MongoQueries.LeaseAcquireOrRenew(holder, duration),
                new FindOneAndUpdateOptions<LeaseRecord> { IsUpsert = true, ReturnDocument = ReturnDocument.After },
                cancellationToken);
            if (lease is not null)
            {
                return new LeaseAttempt(true, lease);
            }
        }
        catch (MongoCommandException e) when (e.Code == 11000)
        {
            // The record exists but did not match (held by another, unexpired): the upsert lost the race.
        }
        catch (MongoWriteException e) when (e.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
        }

        return new LeaseAttempt(false, await ReadAsync(name, cancellationToken));
    }

    public Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken) =>
        Leases.UpdateOneAsync(MongoQueries.LeaseHeldBy(name, holder), MongoQueries.LeaseRelease(), cancellationToken: cancellationToken);

    public async Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) =>
        await Leases.Find(Builders<LeaseRecord>.Filter.Eq(l => l.Name, name)).FirstOrDefaultAsync(cancellationToken);
}
