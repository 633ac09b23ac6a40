using DataManager.Testing;
using System.Globalization;
using DataManager.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Infrastructure;

/// <summary>
/// The real service composed in-process (real Kestrel on a free loopback port, real stores) with only the
/// given settings: nothing from the test process's environment leaks in.
/// </summary>
public sealed class ServiceHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ServiceHost(WebApplication app, HttpClient client, string dataDir)
    {
        _app = app;
        Client = client;
        DataDir = dataDir;
    }

    public HttpClient Client { get; }

    public string DataDir { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<ServiceHost> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, bool waitForStore = true)
    {
        var port = ServerAvailability.FreePort();
        var dataDir = ServerAvailability.TempDirectory("dm-host");
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = dataDir, Args = [] });
        builder.Configuration.Sources.Clear();
        var values = new Dictionary<string, string?>
        {
            ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["DATA_DIR"] = dataDir,
            ["LOG_LEVEL"] = "warning",
            ["POD_NAME"] = "test-" + port.ToString(CultureInfo.InvariantCulture),
            // Jobs are accepted (a disabled deployment answers 409) but never run: no poll after the first,
            // and no request could reach Binance from a test.
            ["ENABLE_BACKFILLER"] = "true",
            ["BACKFILL_POLL_INTERVAL"] = "3600",
            ["BINANCE_FAPI_BASE_URL"] = "http://127.0.0.1:9",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(values);
        builder.AddDataManager();
        var app = builder.Build();
        app.MapDataManager();
        await app.StartAsync(TestContext.Current.CancellationToken);
        if (waitForStore)
        {
            await app.Services.GetRequiredService<DataManager.Storage.StoreReadiness>().WaitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30));
        }

        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        return new ServiceHost(app, client, dataDir);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        CandleDatabases.RemoveDirectory(DataDir);
    }
}

/// <summary>The built service executable, started as a real process with a clean environment.</summary>
public static class ServiceExecutable
{
    private static readonly string[] ServiceVariables =
    [
        "NATS_URL", "MYSQL_URI", "MYSQL_HOST", "MONGODB_URL", "DATA_DIR", "API_PORT", "ENABLE_AUDITOR", "ENABLE_LEADER_ELECTION",
        "SUPPORTED_PAIRS", "SUPPORTED_TIMEFRAMES", "POD_NAME", "HOSTNAME", "LOG_LEVEL", "ASPNETCORE_URLS",
        "DATA_MANAGER_API_TOKENS", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN",
    ];

    public static string DllPath
    {
        get
        {
            // tests/DataManager.Tests/bin/<Configuration>/net10.0/ → src/DataManager.Service/bin/<Configuration>/net10.0/
            var here = new DirectoryInfo(AppContext.BaseDirectory);
            var configuration = here.Parent!.Name;
            return RepositoryRoot.Combine("src", "DataManager.Service", "bin", configuration, here.Name, "DataManager.Service.dll");
        }
    }

    public static LocalProcess Start(IReadOnlyDictionary<string, string?> settings, params string[] arguments)
    {
        var environment = ServiceVariables.ToDictionary(v => v, _ => (string?)null);
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return LocalProcess.Start("dotnet", [DllPath, .. arguments], environment);
    }

    public static async Task<HttpResponseMessage> WaitForReadinessAsync(HttpClient client, LocalProcess process, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                var response = await client.GetAsync("/health/readiness", TestContext.Current.CancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return response;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow >= deadline || process.HasExited)
            {
                Assert.Fail($"service not ready after {timeout} (exited: {process.HasExited}); output:\n{process.Output}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}
