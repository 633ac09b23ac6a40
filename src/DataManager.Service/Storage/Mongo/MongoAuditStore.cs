using DataManager.Auditing;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>Audits and audit cycles in MongoDB.</summary>
public sealed class MongoAuditStore(MongoStoreDatabase database) : IAuditStore
{
    private readonly IMongoCollection<AuditRecord> _audits = database.Collection<AuditRecord>(MongoQueries.AuditsCollection);
    private readonly IMongoCollection<AuditCycleRecord> _cycles = database.Collection<AuditCycleRecord>(MongoQueries.CyclesCollection);

    public Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken) =>
        MongoStoreDatabase.InsertIdempotentAsync(_audits, records, cancellationToken);

    public async Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
        await _audits.Find(MongoQueries.Audits(query))
            .Sort(MongoQueries.AuditsNewestFirst)
            .Skip(query.Skip).Limit(query.Limit)
            .ToListAsync(cancellationToken);

    public async Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken)
    {
        var latest = await (await _audits.AggregateAsync(MongoQueries.AuditsLatestPerSeries(), cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        return [.. latest.OrderBy(a => a.Symbol, StringComparer.Ordinal).ThenBy(a => a.Timeframe, StringComparer.Ordinal)];
    }

    public Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken) =>
        _cycles.ReplaceOneAsync(MongoQueries.CycleById(cycle.Id), cycle, new ReplaceOptions { IsUpsert = true }, cancellationToken);

    public async Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken) =>
        await _cycles.Find(FilterDefinition<AuditCycleRecord>.Empty).Sort(MongoQueries.CyclesNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    public async Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await _audits.DeleteManyAsync(MongoQueries.AuditsOlderThan(olderThan), cancellationToken)).DeletedCount
        + (await _cycles.DeleteManyAsync(MongoQueries.CyclesOlderThan(olderThan), cancellationToken)).DeletedCount;
}
