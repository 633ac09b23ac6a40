using System.Text.Json;
using DataManager.Http;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace DataManager.Health;

public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var health = endpoints.MapGroup("/health").WithTags("Health");
        health.MapMethods("/liveness", ApiRoutes.GetOrHead, Liveness);
        health.MapHealthChecks("/readiness", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            // Only the required store makes the replica unready; MySQL or NATS down is Degraded with 200.
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
            ResponseWriter = WriteReadinessAsync,
        }).WithMetadata(new HttpMethodMetadata(ApiRoutes.GetOrHead));
        return endpoints;
    }

    /// <summary>The process is alive and serving HTTP; touches no database.</summary>
    internal static Ok<LivenessResponse> Liveness(TimeProvider time) =>
        TypedResults.Ok(new LivenessResponse("alive", time.GetUtcNow()));

    internal static Task WriteReadinessAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new ReadinessResponse(
            report.Status.ToString(),
            Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            [.. report.Entries.Select(e => new ReadinessCheck(
                e.Key,
                e.Value.Status.ToString(),
                e.Value.Tags.Contains("required"),
                e.Value.Description ?? e.Value.Exception?.Message,
                e.Value.Exception is null ? null : e.Value.Exception.GetType().Name + ": " + Storage.StoreErrorText.OneLine(e.Value.Exception),
                Math.Round(e.Value.Duration.TotalMilliseconds, 1)))]);
        return JsonSerializer.SerializeAsync(context.Response.Body, body, Storage.StoreJson.Options, context.RequestAborted);
    }
}

public sealed record LivenessResponse(string Status, DateTimeOffset Time);

public sealed record ReadinessResponse(string Status, double TotalDurationMs, IReadOnlyList<ReadinessCheck> Checks);

public sealed record ReadinessCheck(string Name, string Status, bool Required, string? Description, string? Error, double DurationMs);
