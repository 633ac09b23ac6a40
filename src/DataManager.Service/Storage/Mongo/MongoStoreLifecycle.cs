using MongoDB.Bson;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>The production store as a whole: one collection per record kind, indexes created at start.</summary>
public sealed class MongoStoreLifecycle(MongoStoreDatabase database) : IStoreLifecycle
{
    public string Describe() => $"MongoDB database '{database.Name}'";

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // Creating an existing index with the same definition is a no-op, so every replica may run this.
        foreach (var (collection, indexes) in MongoQueries.Indexes)
        {
            var raw = database.Collection<BsonDocument>(collection);
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
        database.Database.RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), ReadPreference.PrimaryPreferred, cancellationToken);
}
