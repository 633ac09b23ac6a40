using DataManager.Configuration;
using DataManager.Leadership;

namespace DataManager.Auditing;

public static class AuditingServiceCollectionExtensions
{
    /// <summary>The audit engine, and its loop as a leader-only loop when ENABLE_AUDITOR is on.</summary>
    public static IServiceCollection AddAuditing(this IServiceCollection services, AuditOptions options)
    {
        AuditMetrics.Enabled.Set(options.Enabled ? 1 : 0);
        AuditMetrics.IntervalSeconds.Set(options.Interval.TotalSeconds);
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
