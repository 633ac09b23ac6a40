using DataManager.Auditing;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>The health history of every series in MongoDB.</summary>
public sealed class MongoHealthScoreStore(MongoStoreDatabase database) : IHealthScoreStore
{
    private readonly IMongoCollection<HealthScoreRecord> _scores = database.Collection<HealthScoreRecord>(MongoQueries.HealthScoresCollection);

    public Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken) =>
        MongoStoreDatabase.InsertIdempotentAsync(_scores, scores, cancellationToken);

    public async Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        await _scores.Find(MongoQueries.HealthHistory(symbol, timeframe, from, to)).Sort(MongoQueries.HealthNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    public async Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await _scores.DeleteManyAsync(MongoQueries.HealthOlderThan(olderThan), cancellationToken)).DeletedCount;
}
