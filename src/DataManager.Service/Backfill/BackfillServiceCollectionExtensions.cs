using DataManager.Configuration;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace DataManager.Backfill;

public static class BackfillServiceCollectionExtensions
{
    /// <summary>The Binance client: retries with jitter on 5xx, 429 and timeouts (each retry waits in the shared weight budget).</summary>
    public static IServiceCollection AddBinanceClient(this IServiceCollection services, BackfillOptions options)
    {
        services.AddSingleton<BinanceWeightLimiter>();
        services.AddTransient<BinanceWeightHandler>();
        var client = services.AddHttpClient<BinanceClient>(client =>
        {
            client.BaseAddress = options.BinanceBaseUrl;
            client.Timeout = Timeout.InfiniteTimeSpan; // per attempt in BinanceWeightHandler; waits for the budget are not timeouts
        });
        // Handlers added first are outermost: the retry wraps the weight handler, so each attempt pays its weight.
        client.AddResilienceHandler("binance", pipeline => pipeline.AddRetry(new HttpRetryStrategyOptions
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
            }));
        client.AddHttpMessageHandler<BinanceWeightHandler>();

        services.AddSingleton<IBackfillPlanner, BackfillPlanner>();
        services.AddSingleton<BackfillRunner>();
        if (options.Enabled)
        {
            services.AddSingleton<Leadership.ILeaderLoop>(sp => sp.GetRequiredService<BackfillRunner>());
        }

        return services;
    }
}
