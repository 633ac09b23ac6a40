using DataManager.Configuration;
using DataManager.Leadership;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DataManager.Analytics;

public static class AnalyticsServiceCollectionExtensions
{
    /// <summary>The analytics scheduler, as a leader-only loop when ENABLE_ANALYTICS is on.</summary>
    public static IServiceCollection AddAnalytics(this IServiceCollection services, AnalyticsOptions options)
    {
        services.TryAddSingleton<AnalyticsMetrics>();
        services.AddSingleton<AnalyticsScheduler>();
        if (options.Enabled)
        {
            services.AddSingleton<ILeaderLoop>(sp => sp.GetRequiredService<AnalyticsScheduler>());
        }

        return services;
    }
}
