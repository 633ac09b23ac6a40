using DataManager.Candles;
using DataManager.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NATS.Client.Core;

namespace DataManager.Health;

/// <summary>The store is required: without it the service can neither elect a leader nor record anything.</summary>
internal sealed class StoreHealthCheck(IStoreLifecycle store, StoreReadiness readiness) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!readiness.IsReady)
        {
            return HealthCheckResult.Unhealthy($"{store.Describe()}: initialising ({readiness.LastError ?? "first attempt"})");
        }

        await store.PingAsync(cancellationToken);
        return HealthCheckResult.Healthy(store.Describe());
    }
}

/// <summary>The extractor's database; when it is down the service still serves, so this reports Degraded.</summary>
internal sealed class CandleDatabaseHealthCheck(ICandleSource candles) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await candles.PingAsync(cancellationToken);
        return HealthCheckResult.Healthy(candles.Describe());
    }
}

internal sealed class NatsHealthCheck(IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService<INatsConnection>() is not { } connection)
        {
            return HealthCheckResult.Healthy("disabled: NATS_URL is not set");
        }

        var rtt = await connection.PingAsync(cancellationToken);
        return HealthCheckResult.Healthy($"{connection.Opts.Url} connected, rtt {rtt.TotalMilliseconds:F1} ms");
    }
}

public static class ReadinessServiceCollectionExtensions
{
    public static IServiceCollection AddReadinessChecks(this IServiceCollection services)
    {
        var timeout = TimeSpan.FromSeconds(3);
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", HealthStatus.Unhealthy, ["ready", "required"], timeout)
            .AddCheck<CandleDatabaseHealthCheck>("mysql", HealthStatus.Degraded, ["ready"], timeout)
            .AddCheck<NatsHealthCheck>("nats", HealthStatus.Degraded, ["ready"], timeout);
        return services;
    }
}
