using DataManager.Candles;
using DataManager.Http;
using DataManager.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataManager.Incidents;

public static class IncidentEndpoints
{
    public static IEndpointRouteBuilder MapIncidentEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/incidents").WithTags("Incidents").ValidateRequests();
        api.MapGet("", QueryAsync);
        api.MapGet("/{id}", GetAsync);
        return endpoints;
    }

    /// <summary>Newest opened first; every filter optional; <c>from</c>/<c>to</c> bound the opening time.</summary>
    internal static async Task<Results<Ok<IncidentPage>, ValidationProblem>> QueryAsync(
        IIncidentStore incidents, [AsParameters] IncidentsRequest request, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var items = await incidents.QueryAsync(query, cancellationToken);
        return TypedResults.Ok(new IncidentPage(items, query.Skip, query.Limit));
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

/// <summary>GET /api/incidents: every filter optional; <c>from</c>/<c>to</c> bound the opening time.</summary>
internal sealed record IncidentsRequest(string? state, string? symbol, string? timeframe, string? severity, string? from, string? to, int? skip, int? limit)
    : IValidatedRequest
{
    public IncidentQuery Query => new(
        State: Choice<IncidentState>(state),
        Symbol: RequestValidation.Symbol(symbol),
        Timeframe: timeframe is not null && Timeframe.TryParseExact(timeframe, out var parsed) ? parsed.Name : null,
        Severity: Choice<IncidentSeverity>(severity),
        From: RequestValidation.Time(from),
        To: RequestValidation.Time(to),
        Skip: skip ?? 0,
        Limit: limit ?? 100);

    public void Validate(Dictionary<string, string[]> errors)
    {
        RequestValidation.SeriesWindow(symbol, timeframe, from, to, errors);
        CheckChoice<IncidentState>("state", state, errors);
        CheckChoice<IncidentSeverity>("severity", severity, errors);
        RequestValidation.Page(skip, limit, 1000, errors);
    }

    private static TEnum? Choice<TEnum>(string? value)
        where TEnum : struct, Enum =>
        Enum.GetValues<TEnum>().Where(c => string.Equals(IncidentMetrics.Name(c), value, StringComparison.Ordinal)).Select(c => (TEnum?)c).FirstOrDefault();

    private static void CheckChoice<TEnum>(string name, string? value, Dictionary<string, string[]> errors)
        where TEnum : struct, Enum
    {
        if (value is not null && Choice<TEnum>(value) is null)
        {
            errors[name] = ["expected one of " + string.Join(", ", Enum.GetValues<TEnum>().Select(IncidentMetrics.Name))];
        }
    }
}

public sealed record IncidentPage(IReadOnlyList<Incident> Items, int Skip, int Limit);
