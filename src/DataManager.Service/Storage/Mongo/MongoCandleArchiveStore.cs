using DataManager.Candles;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>Candle rows removed by duplicate resolution, kept in MongoDB.</summary>
public sealed class MongoCandleArchiveStore(MongoStoreDatabase database) : ICandleArchiveStore
{
    private readonly IMongoCollection<ArchivedCandle> _archive = database.Collection<ArchivedCandle>(MongoQueries.ArchiveCollection);

    public Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken) =>
        MongoStoreDatabase.InsertIdempotentAsync(_archive, rows, cancellationToken);

    public async Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken) =>
        await _archive.Find(MongoQueries.ArchiveOf(symbol, timeframe)).Sort(MongoQueries.ArchiveOldestFirst).ToListAsync(cancellationToken);
}
