using Microsoft.Extensions.DependencyInjection.Extensions;
using Prometheus;

namespace DataManager.Hosting;

/// <summary>
/// The host's own Prometheus registry, served at /metrics; every capability's metrics class is created from
/// its factory, so two hosts in one process (tests) never share a value.
/// </summary>
public static class MetricsRegistry
{
    public static IServiceCollection AddMetricsRegistry(this IServiceCollection services)
    {
        // The process-wide default registry is not served: start none of its collectors (.NET meters, event
        // counters, process figures), which would cost a listener and a timer each for nothing.
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
        {
            SuppressMeters = true,
            SuppressEventCounters = true,
            SuppressDebugMetrics = true,
            SuppressProcessMetrics = true,
        });
        services.TryAddSingleton(_ =>
        {
            var registry = Metrics.NewCustomRegistry();
            // process_* and dotnet_* (CPU, working set, GC, threads): the dashboard's memory panels read them.
            DotNetStats.Register(registry);
            return registry;
        });
        services.TryAddSingleton<IMetricFactory>(sp => Metrics.WithCustomRegistry(sp.GetRequiredService<CollectorRegistry>()));
        return services;
    }
}
