using DataManager.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NATS.Client.Core;
using Prometheus;

namespace DataManager.Tracking;

public static class NatsServiceCollectionExtensions
{
    /// <summary>One NATS connection per process when <c>NATS_URL</c> is set; it reconnects forever and never blocks start-up.</summary>
    public static IServiceCollection AddNatsConnection(this IServiceCollection services, NatsOptions options, SeriesOptions series, string podId)
    {
        if (options.Url is null)
        {
            return services;
        }

        services.AddSingleton<INatsConnection>(sp => new NatsConnection(new NatsOpts
        {
            Url = options.Url,
            Name = $"data-manager-{podId}",
            LoggerFactory = sp.GetRequiredService<ILoggerFactory>(),
            MaxReconnectRetry = -1,
            RetryOnInitialConnect = true,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(250),
            ReconnectWaitMax = TimeSpan.FromSeconds(5),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            AuthOpts = new NatsAuthOpts { Username = options.User, Password = options.Password, Token = options.Token },
        }));
        services.AddHostedService<NatsConnectionMonitor>();
        services.TryAddSingleton<TrackerMetrics>();
        services.AddSingleton(sp =>
        {
            var stats = new TrackerStats(series.SupportedPairs, options.TrackAllSymbols, sp.GetRequiredService<TrackerMetrics>());
            // The receive loop only counts; the counts reach the metrics when the host's registry is scraped.
            sp.GetRequiredService<CollectorRegistry>().AddBeforeCollectCallback(stats.Export);
            return stats;
        });
        services.AddSingleton<MessageTracker>();
        services.AddHostedService(sp => sp.GetRequiredService<MessageTracker>());
        return services;
    }
}
