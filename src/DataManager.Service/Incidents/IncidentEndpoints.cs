using DataManager.Auditing;
using DataManager.Candles;
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

/// <summary>The incident list's query parameters, checked with the input rules the API and CLI share.</summary>
public static class IncidentRequest
{
    public static IncidentQuery Parse(string? state, string? symbol, string? timeframe, string? severity, string? from, string? to, Dictionary<string, string[]> errors)
    {
        var query = new IncidentQuery(State: Choice<IncidentState>("state", state, errors), Severity: Choice<IncidentSeverity>("severity", severity, errors));
        if (symbol is not null)
        {
            if (SymbolName.TryNormalize(symbol, out var normalized))
            {
                query = query with { Symbol = normalized };
            }
            else
            {
                errors["symbol"] = ["expected 2 to 20 letters or digits, e.g. BTCUSDT"];
            }
        }

        if (timeframe is not null)
        {
            if (Timeframe.TryParseExact(timeframe, out var parsed))
            {
                query = query with { Timeframe = parsed.Name };
            }
            else
            {
                errors["timeframe"] = ["expected one of " + string.Join(", ", Timeframe.All.Select(t => t.Name))];
            }
        }

        query = query with { From = Time("from", from, errors), To = Time("to", to, errors) };
        if (query.From is { } f && query.To is { } t && f >= t)
        {
            errors["to"] = ["expected to be after from"];
        }

        return query;
    }

    private static DateTimeOffset? Time(string name, string? value, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (IsoTime.TryParse(value, out var time))
        {
            return time;
        }

        errors[name] = ["expected " + IsoTime.Expected];
        return null;
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
