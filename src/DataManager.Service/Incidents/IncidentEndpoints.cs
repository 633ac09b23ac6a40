using DataManager.Candles;
using DataManager.Http;
using DataManager.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataManager.Incidents;

public static class IncidentEndpoints
{
    public static IEndpointRouteBuilder MapIncidentEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/incidents").WithTags("Incidents");
        api.MapGet("", QueryAsync);
        api.MapGet("/{id}", GetAsync);
        return endpoints;
    }

    /// <summary>Newest opened first; every filter optional; <c>from</c>/<c>to</c> bound the opening time.</summary>
    internal static async Task<Results<Ok<IncidentPage>, ValidationProblem>> QueryAsync(
        IIncidentStore incidents, string? state, string? symbol, string? timeframe, string? severity, string? from, string? to, int? skip, int? limit,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var query = IncidentRequest.Parse(state, symbol, timeframe, severity, from, to, errors);
        var page = RequestValidation.Page(skip, limit, 100, 1000, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var items = await incidents.QueryAsync(query with { Skip = page.Skip, Limit = page.Limit }, cancellationToken);
        return TypedResults.Ok(new IncidentPage(items, page.Skip, page.Limit));
    }

    /// <summary>One incident with its timeline: each audit that saw it and, when a backfill job repaired it, the job's id.</summary>
    internal static async Task<Results<Ok<Incident>, ProblemHttpResult>> GetAsync(IIncidentStore incidents, string id, CancellationToken cancellationToken)
    {
        var incident = await incidents.GetAsync(id, cancellationToken);
        return incident is null
            ? TypedResults.Problem($"No incident {id} (resolved incidents are kept INCIDENT_RETENTION_DAYS).", statusCode: StatusCodes.Status404NotFound, title: "Not found")
            : TypedResults.Ok(incident);
    }
}

/// <summary>The incident list's query parameters, checked with the shared request validation.</summary>
public static class IncidentRequest
{
    public static IncidentQuery Parse(string? state, string? symbol, string? timeframe, string? severity, string? from, string? to, Dictionary<string, string[]> errors)
    {
        var (normalized, fromTime, toTime) = RequestValidation.SeriesWindow(symbol, timeframe, from, to, errors);
        return new IncidentQuery(
            State: Choice<IncidentState>("state", state, errors),
            Symbol: normalized,
            Timeframe: timeframe is not null && Timeframe.TryParseExact(timeframe, out var parsed) ? parsed.Name : null,
            Severity: Choice<IncidentSeverity>("severity", severity, errors),
            From: fromTime,
            To: toTime);
    }

    private static TEnum? Choice<TEnum>(string name, string? value, Dictionary<string, string[]> errors)
        where TEnum : struct, Enum
    {
        if (value is null)
        {
            return null;
        }

        foreach (var candidate in Enum.GetValues<TEnum>())
        {
            if (string.Equals(IncidentMetrics.Name(candidate), value, StringComparison.Ordinal))
            {
                return candidate;
            }
        }

        errors[name] = ["expected one of " + string.Join(", ", Enum.GetValues<TEnum>().Select(IncidentMetrics.Name))];
        return null;
    }
}

public sealed record IncidentPage(IReadOnlyList<Incident> Items, int Skip, int Limit);
