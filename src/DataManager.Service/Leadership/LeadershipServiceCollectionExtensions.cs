namespace DataManager.Leadership;

public static class LeadershipServiceCollectionExtensions
{
    /// <summary>The elector, then the host of leader-only loops (stopped before the elector releases the lease).</summary>
    public static IServiceCollection AddLeadership(this IServiceCollection services, LeaderWorkRecorderOptions workLog)
    {
        services.AddSingleton<LeaderElector>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaderElector>());
        services.AddSingleton<LeaderLoopHost>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaderLoopHost>());

        if (workLog.Path is not null)
        {
            services.AddSingleton<ILeaderLoop, LeaderWorkRecorder>();
        }

        return services;
    }
}
