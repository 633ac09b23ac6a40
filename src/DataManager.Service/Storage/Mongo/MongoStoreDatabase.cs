using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>
/// The production store's database, shared by its stores: majority writes and reads (a lease acknowledged by a
/// minority could roll back in a failover), and the record mapping registered before any collection is used.
/// </summary>
public sealed class MongoStoreDatabase
{
    public MongoStoreDatabase(IMongoClient client, string databaseName)
    {
        MongoMapping.EnsureRegistered();
        Database = client.GetDatabase(databaseName)
            .WithWriteConcern(WriteConcern.WMajority)
            .WithReadConcern(ReadConcern.Majority);
        Name = databaseName;
    }

    public IMongoDatabase Database { get; }

    public string Name { get; }

    public IMongoCollection<T> Collection<T>(string name) => Database.GetCollection<T>(name);

    /// <summary>
    /// Unordered and idempotent: a document whose id is already stored is skipped, so a retry of a batch that
    /// partly landed completes it instead of failing.
    /// </summary>
    public static async Task InsertIdempotentAsync<T>(IMongoCollection<T> collection, IReadOnlyList<T> documents, CancellationToken cancellationToken)
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
}
