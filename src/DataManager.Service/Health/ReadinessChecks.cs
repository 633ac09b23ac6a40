using DataManager.Candles;
using DataManager.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NATS.Client.Core;

namespace DataManager.Health;

/// <summary>
/// A failing dependency becomes its registration's failure status with the error's message, never a logged stack
/// trace per probe. The check runs off-thread and is abandoned at its budget: a driver that ignores cancellation
/// (MySQL's connect timeout against a hung server, SQLite waiting on a lock) cannot hold the probe.
/// </summary>
internal abstract class DependencyCheck : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var budget = context.Registration.Timeout > TimeSpan.Zero ? context.Registration.Timeout : ReadinessBudget.PerCheck;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(budget);
        var check = Task.Run(() => CheckAsync(context, deadline.Token), deadline.Token);
        try
        {
            return await check.WaitAsync(deadline.Token);
        }
        catch (Exception e) when (deadline.IsCancellationRequested || e is not OperationCanceledException)
        {
            // The abandoned check may still fail later; observe it so it is not reported as unobserved.
            _ = check.ContinueWith(static t => t.Exception, TaskScheduler.Default);
            // Once the budget is spent, whatever the driver throws (its own cancellation or timeout error, which
            // differs between drivers and races with ours) means the same thing: the dependency did not answer.
            return deadline.IsCancellationRequested || e is TimeoutException
                ? new HealthCheckResult(context.Registration.FailureStatus, $"no answer within the check's budget of {budget.TotalSeconds:0.##} s")
                : new HealthCheckResult(context.Registration.FailureStatus, StoreErrorText.OneLine(e), e);
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

/// <summary>How long readiness may take. The checks run in parallel, so the answer takes about the longest check.</summary>
public static class ReadinessBudget
{
    /// <summary>Each check's budget: a dependency that does not answer in time is reported, not waited for.</summary>
    public static readonly TimeSpan PerCheck = TimeSpan.FromSeconds(1);

    /// <summary>The whole answer; the manifest's readiness probe timeout must exceed it (the manifest tests check).</summary>
    public static readonly TimeSpan Answer = TimeSpan.FromSeconds(1.5);
}

public static class ReadinessServiceCollectionExtensions
{
    public static IServiceCollection AddReadinessChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", HealthStatus.Unhealthy, ["ready", "required"], ReadinessBudget.PerCheck)
            .AddCheck<CandleDatabaseHealthCheck>("mysql", HealthStatus.Degraded, ["ready"], ReadinessBudget.PerCheck)
            .AddCheck<NatsHealthCheck>("nats", HealthStatus.Degraded, ["ready"], ReadinessBudget.PerCheck);
        return services;
    }
}
