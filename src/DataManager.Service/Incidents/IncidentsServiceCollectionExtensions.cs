using DataManager.Leadership;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DataManager.Incidents;

public static class IncidentsServiceCollectionExtensions
{
    /// <summary>The incident tracker, as a leader-only loop when the auditor runs (it reads the auditor's records).</summary>
    public static IServiceCollection AddIncidents(this IServiceCollection services, bool auditorEnabled, IncidentOptions options)
    {
        services.TryAddSingleton<IncidentMetrics>();
        services.AddSingleton<IncidentTracker>();
        if (auditorEnabled)
        {
            services.AddSingleton<ILeaderLoop>(sp => sp.GetRequiredService<IncidentTracker>());
        }

        return services;
    }
}
