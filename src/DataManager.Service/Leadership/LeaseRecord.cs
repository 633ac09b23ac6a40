namespace DataManager.Leadership;

/// <summary>The one lease record per election name. Never deleted: a release only expires it.</summary>
public sealed record LeaseRecord(
    string Name,
    string Holder,
    long Term,
    DateTimeOffset AcquiredAt,
    DateTimeOffset RenewedAt,
    DateTimeOffset ExpiresAt);

/// <summary>The outcome of one acquire-or-renew write: whether this pod holds the lease, and the record as stored.</summary>
public sealed record LeaseAttempt(bool IsHolder, LeaseRecord? Lease);
