using DataManager.Storage.Mongo;
using DataManager.Tests.Infrastructure;
using MongoDB.Driver;

namespace DataManager.Tests.Storage;

/// <summary>The same contract on a real MongoDB (MONGODB_TEST_URI or Docker); skipped with the reason elsewhere.</summary>
[Trait("Category", "Server")]
public sealed class MongoStoreContractTests(MongoServer server) : StoreContractTests
{
    protected override async Task<TStore> CreateStoreAsync<TStore>()
    {
        server.Require();
        var store = new MongoStore(new MongoClient(server.ConnectionString), "dm_test_" + Guid.NewGuid().ToString("N")[..12]);
        await store.InitializeAsync(TestContext.Current.CancellationToken);
        return (TStore)(object)store;
    }

    protected override Task<DataManager.Storage.IIncidentStore> CreateIncidentStoreAsync()
    {
        server.Require();
        return Task.FromResult<DataManager.Storage.IIncidentStore>(new MongoIncidentStore(new MongoClient(server.ConnectionString), "dm_test_" + Guid.NewGuid().ToString("N")[..12]));
    }

    protected override async Task<(DataManager.Storage.IBackfillJobStore Jobs, DataManager.Auditing.IConfirmedEmptyRanges Ranges)> CreateConfirmedEmptyRangesAsync()
    {
        server.Require();
        var client = new MongoClient(server.ConnectionString);
        var database = "dm_test_" + Guid.NewGuid().ToString("N")[..12];
        var store = new MongoStore(client, database);
        await store.InitializeAsync(TestContext.Current.CancellationToken);
        return (store, new MongoConfirmedEmptyRanges(client, database));
    }
}
