using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Storage;

/// <summary>The same contract on a real MongoDB (MONGODB_TEST_URI or Docker); skipped with the reason elsewhere.</summary>
public sealed class MongoStoreContractTests(MongoServer server) : StoreContractTests
{
    protected override async Task<TStore> CreateStoreAsync<TStore>() => (await NewDatabaseAsync()).GetRequiredService<TStore>();

    protected override async Task<IIncidentStore> CreateIncidentStoreAsync() => (await NewDatabaseAsync()).GetRequiredService<IIncidentStore>();

    private Task<ServiceProvider> NewDatabaseAsync()
    {
        server.Require();
        return StoreServices.StartAsync(new StoreOptions { MongoUrl = server.ConnectionString, MongoDatabase = "dm_test_" + Guid.NewGuid().ToString("N")[..12] });
    }
}
