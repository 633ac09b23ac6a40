using DataManager.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DataManager.Leadership;

public static class LeadershipEndpoints
{
    public static IEndpointRouteBuilder MapLeadershipEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGroup("/health").WithTags("Leadership").MapMethods("/leader", ApiRoutes.GetOrHead, GetLeader);
        return endpoints;
    }

    /// <summary>200 on every replica, leader or not: this replica's standing and the lease as last read from the store.</summary>
    internal static Ok<LeaderStatusResponse> GetLeader(LeaderElector elector)
    {
        var snapshot = elector.Snapshot();
        var lease = snapshot.Lease is { } l ? new LeaseResponse(l.Holder, l.Term, l.AcquiredAt, l.RenewedAt, l.ExpiresAt, l.Incarnation) : null;
        return TypedResults.Ok(new LeaderStatusResponse(snapshot.Enabled, snapshot.IsLeader, snapshot.PodId, lease, snapshot.LastError, snapshot.Incarnation));
    }
}

/// <summary><paramref name="Incarnation"/> is this process's incarnation; the lease's is the holder's (equal when this process holds it).</summary>
public sealed record LeaderStatusResponse(bool Enabled, bool IsLeader, string PodId, LeaseResponse? Lease, string? LastError, string Incarnation);

public sealed record LeaseResponse(string Holder, long Term, DateTimeOffset AcquiredAt, DateTimeOffset RenewedAt, DateTimeOffset ExpiresAt, string Incarnation);
