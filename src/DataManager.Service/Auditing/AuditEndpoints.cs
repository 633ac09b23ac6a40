using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Http;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace DataManager.Auditing;

public static class AuditEndpoints
{
    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGroup("/health").WithTags("Auditing").MapMethods("/audit-status", ApiRoutes.GetOrHead, GetStatusAsync);
        var api = endpoints.MapGroup("/api").WithTags("Auditing").ValidateRequests();
        api.MapGet("/audits", QueryAuditsAsync);
        api.MapGet("/health-scores/{symbol}/{timeframe}", GetHealthHistoryAsync);
        return endpoints;
    }

    /// <summary>The same answer on every replica: followers read the last cycle from the store.</summary>
    internal static async Task<Ok<AuditStatusResponse>> GetStatusAsync(
        IOptions<AuditOptions> options, LeaderElector elector, AuditScheduler scheduler, IAuditStore audits, CancellationToken cancellationToken)
    {
        var leadership = elector.Snapshot();
        var recent = await audits.RecentCyclesAsync(5, cancellationToken);
        var latest = recent.Count > 0 ? recent[0] : null;
        // An unfinished cycle is running only if its term still holds the lease; else its leader went away mid-cycle.
        var running = leadership.IsLeader ? scheduler.IsRunning
            : latest is { FinishedAt: null } && leadership.Lease is { } lease && lease.Term == latest.Term && lease.ExpiresAt > DateTimeOffset.UtcNow;
        var last = recent.FirstOrDefault(c => c.FinishedAt is not null);
        var series = (await audits.LatestPerSeriesAsync(cancellationToken))
            .Select(a => new SeriesStatus(a.Symbol, a.Timeframe, a.Health?.Quality, a.Health?.Level, a.Gaps.Count, a.DuplicateSurplus, a.AuditedAt, a.Error))
            .ToList();
        return TypedResults.Ok(new AuditStatusResponse(
            options.Value.Enabled,
            leadership.IsLeader,
            running,
            last is null ? null : new AuditCycleSummary(last.StartedAt, last.FinishedAt!.Value, Math.Round((last.FinishedAt.Value - last.StartedAt).TotalSeconds, 3),
                last.SeriesAudited, last.Gaps, last.DuplicateSurplus, last.IntegrityViolations, last.Errors),
            last?.NextCycleAt,
            series));
    }

    internal static async Task<Results<Ok<AuditPage>, ValidationProblem>> QueryAuditsAsync(
        IAuditStore audits, [AsParameters] AuditsRequest request, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var items = await audits.QueryAsync(query, cancellationToken);
        return TypedResults.Ok(new AuditPage(items, query.Skip, query.Limit));
    }

    internal static async Task<Results<Ok<HealthHistory>, ValidationProblem>> GetHealthHistoryAsync(
        IHealthScoreStore scores, [AsParameters] HealthHistoryRequest request, CancellationToken cancellationToken)
    {
        var symbol = RequestValidation.Symbol(request.symbol)!;
        var history = await scores.HistoryAsync(symbol, request.timeframe, RequestValidation.Time(request.from), RequestValidation.Time(request.to), request.limit ?? 500, cancellationToken);
        return TypedResults.Ok(new HealthHistory(symbol, request.timeframe,
            [.. history.Select(h => new HealthPoint(h.At, h.Health.Completeness, h.Health.Freshness, h.Health.Consistency, h.Health.Quality, h.Health.Level, h.Term))]));
    }
}

/// <summary>GET /api/audits: every filter optional, newest first, a page at a time.</summary>
internal sealed record AuditsRequest(string? symbol, string? timeframe, string? from, string? to, int? skip, int? limit) : IValidatedRequest
{
    public AuditQuery Query => new(RequestValidation.Symbol(symbol), timeframe, RequestValidation.Time(from), RequestValidation.Time(to), skip ?? 0, limit ?? 100);

    public void Validate(Dictionary<string, string[]> errors)
    {
        RequestValidation.SeriesWindow(symbol, timeframe, from, to, errors);
        RequestValidation.Page(skip, limit, 1000, errors);
    }
}

/// <summary>GET /api/health-scores/{symbol}/{timeframe}.</summary>
internal sealed record HealthHistoryRequest(string symbol, string timeframe, string? from, string? to, int? limit) : IValidatedRequest
{
    public void Validate(Dictionary<string, string[]> errors)
    {
        RequestValidation.SeriesWindow(symbol, timeframe, from, to, errors);
        RequestValidation.Page(0, limit, 10_000, errors);
    }
}

public sealed record AuditStatusResponse(bool Enabled, bool IsLeader, bool Running, AuditCycleSummary? LastCycle, DateTimeOffset? NextCycleAt, IReadOnlyList<SeriesStatus> Series);

public sealed record AuditCycleSummary(DateTimeOffset StartedAt, DateTimeOffset FinishedAt, double DurationSeconds, int SeriesAudited, int Gaps, int DuplicateSurplus, int IntegrityViolations, int Errors);

public sealed record SeriesStatus(string Symbol, string Timeframe, double? Quality, string? Level, int Gaps, int DuplicateSurplus, DateTimeOffset AuditedAt, string? Error);

public sealed record AuditPage(IReadOnlyList<AuditRecord> Items, int Skip, int Limit);

public sealed record HealthHistory(string Symbol, string Timeframe, IReadOnlyList<HealthPoint> Points);

public sealed record HealthPoint(DateTimeOffset At, double Completeness, double Freshness, double Consistency, double Quality, string Level, long Term);
