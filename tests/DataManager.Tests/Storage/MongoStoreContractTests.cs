using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Storage;

/// <summary>The same contract on a real MongoDB (MONGODB_TEST_URI or Docker); skipped with the reason elsewhere.</summary>
[Trait("Category", "Server")]
public sealed class MongoStoreContractTests(MongoServer server) : StoreContractTests
{
    protected override async Task<TStore> CreateStoreAsync<TStore>() => (await NewDatabaseAsync()).GetRequiredService<TStore>();

    protected override async Task<IIncidentStore> CreateIncidentStoreAsync() => (await NewDatabaseAsync()).GetRequiredService<IIncidentStore>();

    private Task<ServiceProvider> NewDatabaseAsync()
    {
        server.Require();
        return StoreServices.StartAsync(new StoreOptions { MongoUrl = server.ConnectionString, MongoDatabase = "dm_test_" + Guid.NewGuid().ToString("N")[..12] });
    }

    protected override async Task<(DataManager.Storage.IBackfillJobStore Jobs, DataManager.Auditing.IConfirmedEmptyRanges Ranges)> CreateConfirmedEmptyRangesAsync()
    {
        var services = await NewDatabaseAsync();
        return (services.GetRequiredService<DataManager.Storage.IBackfillJobStore>(), services.GetRequiredService<DataManager.Auditing.IConfirmedEmptyRanges>());
    }
}
