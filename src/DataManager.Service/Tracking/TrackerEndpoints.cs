using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataManager.Tracking;

public static class TrackerEndpoints
{
    public static IEndpointRouteBuilder MapTrackerEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGroup("/api").WithTags("Tracking").MapGet("/tracker", GetTracker);
        return endpoints;
    }

    /// <summary>This replica's view of the feed (with a queue group, each replica sees its share).</summary>
    /// <remarks>Both services exist only when NATS_URL is set: null otherwise.</remarks>
    internal static Ok<TrackerResponse> GetTracker([FromServices] MessageTracker? tracker, [FromServices] TrackerStats? stats)
    {
        if (tracker is null || stats is null)
        {
            return TypedResults.Ok(new TrackerResponse(false, false, null, null, null, new TrackerTotals(0, 0, 0, 0), null, [], new Dictionary<string, long>(), new Dictionary<string, long>()));
        }

        return TypedResults.Ok(new TrackerResponse(
            true,
            tracker.Connected,
            tracker.Subject,
            tracker.QueueGroup,
            stats.StartedAt,
            new TrackerTotals(stats.TotalReceived, stats.TotalInvalid, stats.TotalBytes, stats.TotalDropped),
            stats.LastReceived,
            stats.BySymbol(),
            stats.ByEventType(),
            stats.InvalidByReason()));
    }
}

public sealed record TrackerResponse(
    bool Enabled,
    bool Connected,
    string? Subject,
    string? QueueGroup,
    DateTimeOffset? StartedAt,
    TrackerTotals Totals,
    DateTimeOffset? LastMessageAt,
    IReadOnlyList<SymbolStats> Symbols,
    IReadOnlyDictionary<string, long> EventTypes,
    IReadOnlyDictionary<string, long> Invalid);

public sealed record TrackerTotals(long Received, long Invalid, long Bytes, long Dropped);
