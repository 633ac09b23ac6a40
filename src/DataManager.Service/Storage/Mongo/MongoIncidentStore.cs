using DataManager.Incidents;
using MongoDB.Bson;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>Incidents in MongoDB: collection <c>incidents</c> (its indexes are in <see cref="MongoQueries.Indexes"/>) and the cursor in <c>incident_cursor</c>.</summary>
public sealed class MongoIncidentStore(MongoStoreDatabase database) : IIncidentStore
{
    private readonly IMongoCollection<Incident> _incidents = database.Collection<Incident>(MongoQueries.IncidentsCollection);
    private readonly IMongoCollection<BsonDocument> _cursor = database.Collection<BsonDocument>(MongoQueries.IncidentCursorCollection);

    private static FilterDefinitionBuilder<Incident> Filter => Builders<Incident>.Filter;

    public async Task<bool> TrySaveAsync(Incident incident, long expectedVersion, CancellationToken cancellationToken)
    {
        var stored = incident with { Version = expectedVersion + 1 };
        if (expectedVersion == 0)
        {
            try
            {
                await _incidents.InsertOneAsync(stored, cancellationToken: cancellationToken);
                return true;
            }
            catch (MongoWriteException e) when (e.WriteError?.Category == ServerErrorCategory.DuplicateKey)
            {
                return false;
            }
        }

        var result = await _incidents.ReplaceOneAsync(
            Filter.Eq(i => i.Id, incident.Id) & Filter.Eq(i => i.Version, expectedVersion) & Filter.Lte(i => i.Term, incident.Term),
            stored, cancellationToken: cancellationToken);
        return result.ModifiedCount == 1;
    }

    public async Task<IReadOnlyList<bool>> TrySaveCycleAsync(IReadOnlyList<IncidentWrite> writes, DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken)
    {
        // No transaction (a standalone server has none): a crash between the writes and the cursor makes the next
        // leader re-apply the cycle, which changes nothing.
        var results = new List<bool>(writes.Count);
        foreach (var write in writes)
        {
            results.Add(await TrySaveAsync(write.Incident, write.ExpectedVersion, cancellationToken));
        }

        await SaveCursorAsync(appliedThrough, term, cancellationToken);
        return results;
    }

    public async Task<Incident?> GetAsync(string id, CancellationToken cancellationToken) =>
        await _incidents.Find(Filter.Eq(i => i.Id, id)).FirstOrDefaultAsync(cancellationToken);

    public async Task<IReadOnlyList<Incident>> OpenAsync(CancellationToken cancellationToken) =>
        await _incidents.Find(Filter.Eq(i => i.State, IncidentState.Open)).SortBy(i => i.OpenedAt).ThenBy(i => i.Id).ToListAsync(cancellationToken);

    public async Task<IReadOnlyList<Incident>> QueryAsync(IncidentQuery query, CancellationToken cancellationToken) =>
        await _incidents.Find(Matching(query)).SortByDescending(i => i.OpenedAt).ThenBy(i => i.Id).Skip(query.Skip).Limit(query.Limit).ToListAsync(cancellationToken);

    public static FilterDefinition<Incident> Matching(IncidentQuery query)
    {
        var filter = Filter.Empty;
        if (query.State is { } state)
        {
            filter &= Filter.Eq(i => i.State, state);
        }

        if (query.Symbol is not null)
        {
            filter &= Filter.Eq(i => i.Symbol, query.Symbol);
        }

        if (query.Timeframe is not null)
        {
            filter &= Filter.Eq(i => i.Timeframe, query.Timeframe);
        }

        if (query.Severity is { } severity)
        {
            filter &= Filter.Eq(i => i.Severity, severity);
        }

        if (query.From is { } from)
        {
            filter &= Filter.Gte(i => i.OpenedAt, from);
        }

        if (query.To is { } to)
        {
            filter &= Filter.Lt(i => i.OpenedAt, to);
        }

        return filter;
    }

    public async Task<DateTimeOffset?> ReadCursorAsync(CancellationToken cancellationToken)
    {
        var cursor = await _cursor.Find(new BsonDocument("_id", "audits")).FirstOrDefaultAsync(cancellationToken);
        return cursor is null ? null : new DateTimeOffset(cursor["appliedThrough"].ToUniversalTime(), TimeSpan.Zero);
    }

    public async Task SaveCursorAsync(DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken)
    {
        // Forward only: the filter matches a missing or older cursor; a newer one makes the upsert collide, which is ignored.
        var filter = new BsonDocument { { "_id", "audits" }, { "appliedThrough", new BsonDocument("$lt", appliedThrough.UtcDateTime) } };
        var update = new BsonDocument("$set", new BsonDocument { { "appliedThrough", appliedThrough.UtcDateTime }, { "term", term } });
        try
        {
            await _cursor.UpdateOneAsync(filter, update, new UpdateOptions { IsUpsert = true }, cancellationToken);
        }
        catch (MongoWriteException e) when (e.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
        }
    }

    public async Task<long> PruneResolvedAsync(DateTimeOffset resolvedBefore, CancellationToken cancellationToken) =>
        (await _incidents.DeleteManyAsync(Filter.Eq(i => i.State, IncidentState.Resolved) & Filter.Lt(i => i.ResolvedAt, resolvedBefore), cancellationToken)).DeletedCount;
}
