using DataManager.Configuration;
using DataManager.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Storage;

/// <summary>A store's ports as the service registers them (AddDataManagerStore), over a new, initialised database.</summary>
internal static class StoreServices
{
    public static async Task<ServiceProvider> StartAsync(StoreOptions options)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(TimeProvider.System).AddDataManagerStore(options).BuildServiceProvider();
        await services.GetRequiredService<IStoreLifecycle>().InitializeAsync(TestContext.Current.CancellationToken);
        return services;
    }
}
