namespace DataManager.Leadership;

/// <summary>
/// The one lease record per election name. Never deleted: a release only expires it. <see cref="Incarnation"/>
/// is the holding process's incarnation (empty on records written before it existed).
/// </summary>
public sealed record LeaseRecord(
    string Name,
    string Holder,
    long Term,
    DateTimeOffset AcquiredAt,
    DateTimeOffset RenewedAt,
    DateTimeOffset ExpiresAt,
    string Incarnation = "");

/// <summary>
/// Who claims the lease: the replica (<c>POD_NAME</c>) and the process incarnation. Both must match for a
/// renewal; the same pod under another incarnation (a container restarted in place, or two processes
/// misconfigured with one <c>POD_NAME</c>) is someone else, so it waits for expiry and its acquisition raises
/// the term.
/// </summary>
public sealed record LeaseClaimant(string Holder, string Incarnation);

/// <summary>The outcome of one acquire-or-renew write: whether this pod holds the lease, and the record as stored.</summary>
public sealed record LeaseAttempt(bool IsHolder, LeaseRecord? Lease);
