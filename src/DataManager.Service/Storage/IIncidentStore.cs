using DataManager.Incidents;

namespace DataManager.Storage;

/// <summary>Incidents, and how far the leader has read the audit history into them.</summary>
public interface IIncidentStore
{
    /// <summary>
    /// Writes the incident if the stored one is at <paramref name="expectedVersion"/> (0: it must not exist yet)
    /// and was not written under a higher term; the stored version becomes expectedVersion + 1.
    /// False when another write got there first.
    /// </summary>
    Task<bool> TrySaveAsync(Incident incident, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>
    /// The writes of one audit cycle and the cursor after it: each write as <see cref="TrySaveAsync"/> (one
    /// result per write, in order), then the cursor as <see cref="SaveCursorAsync"/>; one transaction where
    /// the backend has them (SQLite), in that order otherwise.
    /// </summary>
    Task<IReadOnlyList<bool>> TrySaveCycleAsync(IReadOnlyList<IncidentWrite> writes, DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken);

    Task<Incident?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every open incident (a small set: the problems of now).</summary>
    Task<IReadOnlyList<Incident>> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Newest opened first, filtered (From/To bound the opening time) and paged.</summary>
    Task<IReadOnlyList<Incident>> QueryAsync(IncidentQuery query, CancellationToken cancellationToken);

    /// <summary>The start time of the newest audit cycle applied to incidents, or null before the first.</summary>
    Task<DateTimeOffset?> ReadCursorAsync(CancellationToken cancellationToken);

    /// <summary>Moves the cursor forward only (a late write of an older position is ignored).</summary>
    Task SaveCursorAsync(DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken);

    /// <summary>Deletes resolved incidents resolved before <paramref name="resolvedBefore"/>; open ones stay.</summary>
    Task<long> PruneResolvedAsync(DateTimeOffset resolvedBefore, CancellationToken cancellationToken);
}

/// <summary>An incident to write, if the stored one is still at <paramref name="ExpectedVersion"/> (0: new).</summary>
public sealed record IncidentWrite(Incident Incident, long ExpectedVersion);
