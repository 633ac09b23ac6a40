using DataManager.Analytics;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>Analytics results in MongoDB.</summary>
public sealed class MongoAnalyticsStore(MongoStoreDatabase database) : IAnalyticsStore
{
    private readonly IMongoCollection<AnalyticsResult> _results = database.Collection<AnalyticsResult>(MongoQueries.AnalyticsCollection);

    public Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken) =>
        MongoStoreDatabase.InsertIdempotentAsync(_results, results, cancellationToken);

    public async Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken)
    {
        var latest = await (await _results.AggregateAsync(MongoQueries.AnalyticsLatest(symbol, timeframe), cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        return [.. latest.OrderBy(a => a.Metric, StringComparer.Ordinal)];
    }

    public async Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        await _results.Find(MongoQueries.AnalyticsHistory(symbol, timeframe, metric, from, to)).Sort(MongoQueries.AnalyticsNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    public async Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        (await _results.DeleteManyAsync(MongoQueries.AnalyticsOlderThan(olderThan), cancellationToken)).DeletedCount;
}
