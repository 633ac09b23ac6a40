using DataManager.Configuration;
using DataManager.Leadership;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DataManager.Auditing;

public static class AuditingServiceCollectionExtensions
{
    /// <summary>The audit engine, and its loop as a leader-only loop when ENABLE_AUDITOR is on.</summary>
    public static IServiceCollection AddAuditing(this IServiceCollection services, AuditOptions options)
    {
        services.TryAddSingleton<AuditMetrics>();
        services.AddSingleton<SeriesAuditor>();
        services.AddSingleton<DuplicateRemover>();
        services.AddSingleton<AuditLoop>();
        if (options.Enabled)
        {
            services.AddSingleton<ILeaderLoop>(sp => sp.GetRequiredService<AuditLoop>());
        }

        return services;
    }
}
