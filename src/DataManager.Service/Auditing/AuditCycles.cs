using DataManager.Storage;

namespace DataManager.Auditing;

public static class AuditCycles
{
    /// <summary>
    /// How many of the newest cycles are read to find the newest finished one: the newest may still be running,
    /// and one before it may have been abandoned by a leader that went away mid-cycle.
    /// </summary>
    public const int RecentToScan = 5;

    public static AuditCycleRecord? NewestFinished(IEnumerable<AuditCycleRecord> newestFirst) => newestFirst.FirstOrDefault(c => c.FinishedAt is not null);

    /// <summary>More series than any deployment audits: every record of one cycle is read in one page.</summary>
    public const int MaxRecordsPerCycle = 100_000;

    /// <summary>The records one cycle wrote: they all carry the cycle's start as their audit time.</summary>
    public static async Task<IEnumerable<AuditRecord>> RecordsOfAsync(this IAuditStore audits, AuditCycleRecord cycle, CancellationToken cancellationToken) =>
        (await audits.QueryAsync(new AuditQuery(From: cycle.StartedAt, To: cycle.StartedAt.AddMilliseconds(1), Limit: MaxRecordsPerCycle), cancellationToken))
            .Where(r => r.CycleId == cycle.Id);
}
