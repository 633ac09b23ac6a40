using DataManager.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace DataManager.Backfill;

public static class BackfillServiceCollectionExtensions
{
    public const string PipelineName = "binance";

    /// <summary>
    /// The Binance client: retries with jitter on 5xx, 429, timeouts and transport faults, the body's included
    /// (each retry waits in the shared weight budget). A retry logs one Warning line; per-request lines are Debug.
    /// </summary>
    public static IServiceCollection AddBinanceClient(this IServiceCollection services, BackfillOptions options)
    {
        services.TryAddSingleton<BackfillMetrics>();
        services.AddSingleton<BinanceWeightLimiter>();
        services.AddTransient<BinanceWeightHandler>();
        var client = services.AddHttpClient<BinanceClient>(client =>
        {
            client.BaseAddress = options.BinanceBaseUrl;
            client.Timeout = Timeout.InfiniteTimeSpan; // per attempt in BinanceWeightHandler; waits for the budget are not timeouts
        });
        client.RemoveAllLoggers(); // four Information lines per request otherwise; BinanceWeightHandler logs one at Debug
        // Handlers added first are outermost: the retry wraps the weight handler, so each attempt pays its weight.
        client.AddResilienceHandler(PipelineName, (pipeline, context) =>
        {
            var logger = context.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("DataManager.Backfill.BinanceRetry");
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = 5,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldRetryAfterHeader = false, // the limiter already holds every request until Retry-After
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutException>()
                    .HandleResult(r => (int)r.StatusCode >= 500 || (int)r.StatusCode == 429),
                OnRetry = args =>
                {
                    var cause = args.Outcome.Exception is { } e ? e.Message : $"HTTP {(int)args.Outcome.Result!.StatusCode}";
                    BinanceRetryLog.Retrying(logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, cause);
                    return default;
                },
            });
        });
        client.AddHttpMessageHandler<BinanceWeightHandler>();
        // Polly's own per-attempt and retry events (with stack traces) stay at Debug for this pipeline.
        services.Configure<Polly.Telemetry.TelemetryOptions>(telemetry =>
        {
            var severity = telemetry.SeverityProvider;
            telemetry.SeverityProvider = args =>
                args.Source.PipelineName?.EndsWith(PipelineName, StringComparison.Ordinal) == true ? Polly.Telemetry.ResilienceEventSeverity.Debug
                : severity?.Invoke(args) ?? args.Event.Severity;
        });

        services.AddSingleton<BackfillRunner>();
        // On every replica: the leader exports the queue whether or not it runs jobs itself.
        services.AddSingleton<Leadership.ILeaderLoop, BackfillQueueMonitor>();
        if (options.Enabled)
        {
            services.AddSingleton<Leadership.ILeaderLoop>(sp => sp.GetRequiredService<BackfillRunner>());
        }

        if (options.AutoBackfill)
        {
            // Jobs from audit gaps; with ENABLE_BACKFILLER off they wait for a replica that runs jobs.
            services.AddSingleton<Leadership.ILeaderLoop, AutoBackfillLoop>();
        }

        return services;
    }
}

internal static partial class BinanceRetryLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Binance request failed, retry {Retry} in {DelayMs:F0} ms: {Cause}")]
    public static partial void Retrying(ILogger logger, int retry, double delayMs, string cause);
}
