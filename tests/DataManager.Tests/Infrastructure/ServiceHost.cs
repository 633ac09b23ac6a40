using DataManager.Testing;
using System.Globalization;
using System.Net;
using DataManager.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
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
        ServerAvailability.RequireServerCategory();
        // API_PORT takes 1 to 65535, so Kestrel cannot be asked for port 0 here: a free port is taken right
        // before the start, and the start is repeated on another when a concurrent run took it in between.
        for (var attempt = 1; ; attempt++)
        {
            var dataDir = ServerAvailability.TempDirectory("dm-host");
            var app = Build(ServerAvailability.FreePort(), dataDir, settings);
            try
            {
                await app.StartAsync(TestContext.Current.CancellationToken);
            }
            catch (IOException) when (attempt < 5)
            {
                await app.DisposeAsync();
                CandleDatabases.RemoveDirectory(dataDir);
                continue;
            }

            if (waitForStore)
            {
                await app.Services.GetRequiredService<DataManager.Storage.StoreReadiness>().WaitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30));
            }

            // The address Kestrel actually bound, not the one asked for.
            var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{bound.Port}"), Timeout = TimeSpan.FromSeconds(30) };
            return new ServiceHost(app, client, dataDir);
        }
    }

    private static WebApplication Build(int port, string dataDir, IReadOnlyDictionary<string, string?>? settings)
    {
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
        return app;
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
        ServerAvailability.RequireServerCategory();
        var environment = ServiceVariables.ToDictionary(v => v, _ => (string?)null);
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return LocalProcess.Start("dotnet", [DllPath, .. arguments], environment);
    }

    /// <summary>
    /// Starts the service on a free port (API_PORT cannot be 0) and waits until it is ready; when a concurrent run
    /// took the port in between, starts it again on another.
    /// </summary>
    /// <param name="settings">The settings for a given API port (API_PORT is set from it).</param>
    public static async Task<(LocalProcess Process, int Port)> StartReadyAsync(Func<int, IReadOnlyDictionary<string, string?>> settings, TimeSpan timeout)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = ServerAvailability.FreePort();
            var process = Start(new Dictionary<string, string?>(settings(port)) { ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture) });
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            try
            {
                (await WaitForReadinessAsync(client, process, timeout)).Dispose();
                return (process, port);
            }
            catch (Exception) when (attempt < 5 && process.HasExited && process.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                await process.DisposeAsync();
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
        }
    }

    public static async Task<HttpResponseMessage> WaitForReadinessAsync(HttpClient client, LocalProcess process, TimeSpan timeout)
    {
        HttpResponseMessage? ready = null;
        try
        {
            await Eventually.UntilAsync($"the service at {client.BaseAddress} answers /health/readiness with 2xx", async token =>
            {
                var response = await client.GetAsync("/health/readiness", token);
                if (response.IsSuccessStatusCode)
                {
                    ready = response;
                    return true;
                }

                response.Dispose();
                return false;
            }, timeout, abandonIf: () => process.HasExited ? $"the service exited with {process.ExitCode}" : null, cancellationToken: TestContext.Current.CancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            Assert.Fail($"{e.Message}; output:\n{process.Output}");
        }

        return ready!;
    }

    public static Task WaitForLivenessAsync(HttpClient client, LocalProcess process) =>
        Eventually.UntilAsync($"the service at {client.BaseAddress} answers /health/liveness with 200", async token =>
        {
            using var response = await client.GetAsync("/health/liveness", token);
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromMinutes(2), seen: () => process.Output, abandonIf: () => process.HasExited ? "the service exited" : null,
        cancellationToken: TestContext.Current.CancellationToken);
}
