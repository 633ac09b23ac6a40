using DataManager.Http;
using DataManager.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataManager.Analytics;

public static class AnalyticsEndpoints
{
    public static IEndpointRouteBuilder MapAnalyticsEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var analytics = endpoints.MapGroup("/analytics").WithTags("Analytics").ValidateRequests();
        analytics.MapGet("/correlation/{timeframe}", GetCorrelationAsync);
        analytics.MapGet("/{symbol}/{timeframe}", GetLatestAsync);
        analytics.MapGet("/{symbol}/{timeframe}/{metric}", GetHistoryAsync);
        return endpoints;
    }

    internal static async Task<Results<Ok<SeriesAnalytics>, ProblemHttpResult, ValidationProblem>> GetLatestAsync(
        IAnalyticsStore store, [AsParameters] SeriesRequest request, CancellationToken cancellationToken)
    {
        var (symbol, timeframe) = (RequestValidation.Symbol(request.symbol)!, request.timeframe);
        var latest = await store.LatestAsync(symbol, timeframe, cancellationToken);
        return latest.Count == 0
            ? NotComputed($"no analytics computed yet for {symbol} {timeframe}")
            : TypedResults.Ok(new SeriesAnalytics(symbol, timeframe, latest.Max(r => r.ComputedAt), latest.ToDictionary(r => r.Metric, Group)));
    }

    internal static async Task<Results<Ok<MetricHistory>, ProblemHttpResult, ValidationProblem>> GetHistoryAsync(
        IAnalyticsStore store, [AsParameters] MetricHistoryRequest request, CancellationToken cancellationToken)
    {
        var (symbol, timeframe, metric) = (RequestValidation.Symbol(request.symbol)!, request.timeframe, request.metric);
        var history = await store.HistoryAsync(symbol, timeframe, metric, RequestValidation.Time(request.from), RequestValidation.Time(request.to), request.limit ?? 100, cancellationToken);
        return history.Count == 0
            ? NotComputed($"no {metric} computed for {symbol} {timeframe} in that range")
            : TypedResults.Ok(new MetricHistory(symbol, timeframe, metric, [.. history.Select(r => new MetricPoint(r.ComputedAt, r.Term, Group(r)))]));
    }

    internal static async Task<Results<Ok<CorrelationMatrix>, ProblemHttpResult, ValidationProblem>> GetCorrelationAsync(
        IAnalyticsStore store, [AsParameters] CorrelationRequest request, CancellationToken cancellationToken)
    {
        var timeframe = request.timeframe;
        var latest = (await store.LatestAsync(AnalyticsScheduler.CorrelationSymbol, timeframe, cancellationToken)).FirstOrDefault(r => r.Metric == "correlation");
        return latest is null
            ? NotComputed($"no correlation computed yet for {timeframe}")
            : TypedResults.Ok(new CorrelationMatrix(timeframe, latest.ComputedAt,
                [.. latest.Values.Select(v => new CorrelationPair(v.Key.Split('~')[0], v.Key.Split('~')[1], v.Value, latest.Reasons.GetValueOrDefault(v.Key)))]));
    }

    private static ProblemHttpResult NotComputed(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not computed yet");

    private static MetricGroupResponse Group(AnalyticsResult result) => new(result.Values, result.Reasons, result.Labels, result.ComputedAt, result.Term);
}

/// <summary>GET /analytics/{symbol}/{timeframe}.</summary>
internal sealed record SeriesRequest(string symbol, string timeframe) : IValidatedRequest
{
    public void Validate(Dictionary<string, string[]> errors) => RequestValidation.SeriesWindow(symbol, timeframe, null, null, errors);
}

/// <summary>GET /analytics/{symbol}/{timeframe}/{metric}: one metric group's history.</summary>
internal sealed record MetricHistoryRequest(string symbol, string timeframe, string metric, string? from, string? to, int? limit) : IValidatedRequest
{
    public void Validate(Dictionary<string, string[]> errors)
    {
        RequestValidation.SeriesWindow(symbol, timeframe, from, to, errors);
        if (!AnalyticsCalculator.Groups.Contains(metric))
        {
            errors["metric"] = ["expected one of " + string.Join(", ", AnalyticsCalculator.Groups)];
        }

        RequestValidation.Page(0, limit, 5_000, errors);
    }
}

/// <summary>GET /analytics/correlation/{timeframe}.</summary>
internal sealed record CorrelationRequest(string timeframe) : IValidatedRequest
{
    public void Validate(Dictionary<string, string[]> errors) => RequestValidation.OptionalTimeframe(timeframe, errors);
}

public sealed record MetricGroupResponse(IReadOnlyDictionary<string, double?> Values, IReadOnlyDictionary<string, string> Reasons, IReadOnlyDictionary<string, string> Labels, DateTimeOffset ComputedAt, long Term);

public sealed record SeriesAnalytics(string Symbol, string Timeframe, DateTimeOffset ComputedAt, IReadOnlyDictionary<string, MetricGroupResponse> Groups);

public sealed record MetricPoint(DateTimeOffset ComputedAt, long Term, MetricGroupResponse Group);

public sealed record MetricHistory(string Symbol, string Timeframe, string Metric, IReadOnlyList<MetricPoint> History);

public sealed record CorrelationPair(string A, string B, double? Correlation, string? Reason);

public sealed record CorrelationMatrix(string Timeframe, DateTimeOffset ComputedAt, IReadOnlyList<CorrelationPair> Pairs);
