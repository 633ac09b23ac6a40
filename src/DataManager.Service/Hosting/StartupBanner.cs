using DataManager.Configuration;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Hosting;

/// <summary>The first lines an operator reads: which mode runs, where its files are, what is on or off.</summary>
internal sealed partial class StartupBanner(
    IOptions<ServiceOptions> service,
    IOptions<StoreOptions> store,
    IOptions<CandleDatabaseOptions> candles,
    IOptions<NatsOptions> nats,
    IOptions<Http.ApiAccessOptions> access,
    IStoreLifecycle storeLifecycle,
    Candles.ICandleSource candleSource,
    ILogger<StartupBanner> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var version = typeof(StartupBanner).Assembly.GetName().Version?.ToString(3) ?? "?";
        LogStarting(logger, version, service.Value.PodId, service.Value.ApiPort);
        LogStore(logger, store.Value.UsesMongo ? "MongoDB" : "embedded SQLite", storeLifecycle.Describe());
        LogCandles(logger, candles.Value.IsEmbedded ? "embedded SQLite demo" : "MySQL", candleSource.Describe());
        if (nats.Value.Url is null)
        {
            LogNatsOff(logger);
        }
        else
        {
            LogNats(logger, nats.Value.Url, nats.Value.AuthDescription, nats.Value.Subject, nats.Value.QueueGroup.Length == 0 ? "(none)" : nats.Value.QueueGroup);
        }

        var tokens = access.Value.Tokens;
        if (tokens.Count > 0)
        {
            LogApiTokens(logger, tokens.Count, string.Join(", ", tokens.Select(t => t.Name)));
        }
        else if (access.Value.EmbeddedMode)
        {
            LogApiOpen(logger, Http.ApiAccessOptions.TokensSetting);
        }
        else
        {
            LogApiClosed(logger, Http.ApiAccessOptions.TokensSetting);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "DataManager {Version} starting as pod {PodId}, HTTP on port {Port}")]
    private static partial void LogStarting(ILogger logger, string version, string podId, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "Store: {Mode} ({Where})")]
    private static partial void LogStore(ILogger logger, string mode, string where);

    [LoggerMessage(Level = LogLevel.Information, Message = "Candles: {Mode} ({Where})")]
    private static partial void LogCandles(ILogger logger, string mode, string where);

    [LoggerMessage(Level = LogLevel.Information, Message = "Message tracker off: NATS_URL is not set")]
    private static partial void LogNatsOff(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "NATS {Url} (authentication: {Auth}), subject {Subject}, queue group {QueueGroup}")]
    private static partial void LogNats(ILogger logger, string url, string auth, string subject, string queueGroup);

    [LoggerMessage(Level = LogLevel.Information, Message = "API: state-changing endpoints need a bearer token; {Count} accepted ({Names})")]
    private static partial void LogApiTokens(ILogger logger, int count, string names);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API: embedded mode and no {Setting}: state-changing endpoints are open to any caller (local demo only)")]
    private static partial void LogApiOpen(ILogger logger, string setting);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API: no {Setting} configured: state-changing endpoints answer 403 until it is set")]
    private static partial void LogApiClosed(ILogger logger, string setting);
}
