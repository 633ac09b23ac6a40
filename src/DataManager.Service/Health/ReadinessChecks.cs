using DataManager.Candles;
using DataManager.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NATS.Client.Core;

namespace DataManager.Health;

/// <summary>A failing dependency becomes its registration's failure status with the error's message, never a logged stack trace per probe.</summary>
internal abstract class DependencyCheck : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await CheckAsync(context, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested || e is OperationCanceledException)
        {
            var description = e is OperationCanceledException ? "no answer within the check's time budget" : e.Message;
            return new HealthCheckResult(context.Registration.FailureStatus, description, e);
        }
    }

    protected abstract Task<HealthCheckResult> CheckAsync(HealthCheckContext context, CancellationToken cancellationToken);
}

/// <summary>The store is required: without it the service can neither elect a leader nor record anything.</summary>
internal sealed class StoreHealthCheck(IStoreLifecycle store, StoreReadiness readiness) : DependencyCheck
{
    protected override async Task<HealthCheckResult> CheckAsync(HealthCheckContext context, CancellationToken cancellationToken)
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
internal sealed class CandleDatabaseHealthCheck(ICandleSource candles) : DependencyCheck
{
    protected override async Task<HealthCheckResult> CheckAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        await candles.PingAsync(cancellationToken);
        return HealthCheckResult.Healthy(candles.Describe());
    }
}

internal sealed class NatsHealthCheck(IServiceProvider services) : DependencyCheck
{
    protected override async Task<HealthCheckResult> CheckAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        if (services.GetService<INatsConnection>() is not { } connection)
        {
            return HealthCheckResult.Healthy("disabled: NATS_URL is not set");
        }

        // Read the state instead of pinging: a disconnected client would hold the probe until its timeout.
        if (connection.ConnectionState != NatsConnectionState.Open)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"{connection.Opts.Url} {connection.ConnectionState.ToString().ToLowerInvariant()}; reconnecting in the background");
        }

        var rtt = await connection.PingAsync(cancellationToken);
        var tracker = services.GetService<Tracking.TrackerStats>() is { } stats
            ? $"; tracker: {stats.TotalReceived} messages, {stats.TotalInvalid} invalid, {stats.TotalDropped} dropped, last at {stats.LastReceived?.ToString("O", System.Globalization.CultureInfo.InvariantCulture) ?? "never"}"
            : "";
        return HealthCheckResult.Healthy($"{connection.Opts.Url} connected, rtt {rtt.TotalMilliseconds:F1} ms{tracker}");
    }
}

public static class ReadinessServiceCollectionExtensions
{
    public static IServiceCollection AddReadinessChecks(this IServiceCollection services)
    {
        // Budgets well inside a readiness probe's timeout: a dependency that does not answer in time is reported, not waited for.
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", HealthStatus.Unhealthy, ["ready", "required"], TimeSpan.FromSeconds(2))
            .AddCheck<CandleDatabaseHealthCheck>("mysql", HealthStatus.Degraded, ["ready"], TimeSpan.FromSeconds(1))
            .AddCheck<NatsHealthCheck>("nats", HealthStatus.Degraded, ["ready"], TimeSpan.FromSeconds(1));
        return services;
    }
}
