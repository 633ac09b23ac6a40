using NATS.Client.Core;

namespace DataManager.Tracking;

/// <summary>
/// Starts the NATS connection without blocking start-up and reports its state: one log line per change
/// (the client's own per-retry errors are silenced), <c>data_manager_nats_connected</c> and
/// <c>data_manager_nats_reconnects_total</c>.
/// </summary>
internal sealed partial class NatsConnectionMonitor(INatsConnection connection, TrackerMetrics metrics, ILogger<NatsConnectionMonitor> logger) : BackgroundService
{
    private int _everOpened;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (connection is not NatsConnection nats)
        {
            return;
        }

        nats.ConnectionOpened += OnOpenedAsync;
        nats.ConnectionDisconnected += OnDisconnectedAsync;
        nats.ServerError += OnServerErrorAsync;
        // Exported from the start (0 until connected); read after subscribing, so no change is missed.
        metrics.NatsConnected.Set(connection.ConnectionState == NatsConnectionState.Open ? 1 : 0);
        try
        {
            // With RetryOnInitialConnect this completes only once connected, and takes no token:
            // stop waiting on shutdown instead of holding the host until its shutdown timeout.
            var connect = nats.ConnectAsync().AsTask();
            // Unreachable at start: one warning now, then "NATS connected" once it answers (the client retries quietly).
            if (await Task.WhenAny(connect, Task.Delay(nats.Opts.ConnectTimeout, stoppingToken)) != connect && !stoppingToken.IsCancellationRequested)
            {
                LogNotReachableAtStart(logger, nats.Opts.Url, nats.Opts.ConnectTimeout.TotalSeconds);
            }

            await connect.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogInitialFailure(logger, nats.Opts.Url, e.Message);
        }
    }

    private ValueTask OnOpenedAsync(object? sender, NatsEventArgs args)
    {
        metrics.NatsConnected.Set(1);
        if (Interlocked.Exchange(ref _everOpened, 1) == 1)
        {
            metrics.NatsReconnects.Inc();
            LogReconnected(logger, connection.Opts.Url);
        }
        else
        {
            LogConnected(logger, connection.Opts.Url);
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        metrics.NatsConnected.Set(0);
        LogDisconnected(logger, connection.Opts.Url, args.Message);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnServerErrorAsync(object? sender, NatsEventArgs args)
    {
        LogServerError(logger, connection.Opts.Url, args.Message);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "NATS connected to {Url}")]
    private static partial void LogConnected(ILogger logger, string url);

    [LoggerMessage(Level = LogLevel.Information, Message = "NATS reconnected to {Url}")]
    private static partial void LogReconnected(ILogger logger, string url);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NATS disconnected from {Url}: {Reason}; reconnecting")]
    private static partial void LogDisconnected(ILogger logger, string url, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NATS server {Url} reported an error: {Error}")]
    private static partial void LogServerError(ILogger logger, string url, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NATS {Url} not reachable at start (no connection within {Seconds} s); retrying in the background, the tracker counts nothing until it connects")]
    private static partial void LogNotReachableAtStart(ILogger logger, string url, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NATS {Url} not reachable at start ({Error}); retrying in the background")]
    private static partial void LogInitialFailure(ILogger logger, string url, string error);
}
