using System.Globalization;
using DataManager.Configuration;

namespace DataManager.Hosting;

/// <summary>One capability of the service, whether it runs here, and the setting that decided it.</summary>
public sealed record Capability(string Name, bool On, string Why)
{
    public override string ToString() => $"{Name} {(On ? "on" : "off")} ({Why})";
}

/// <summary>What runs on this replica and why, for the one start-up line operators grep for.</summary>
public static class Capabilities
{
    public static IReadOnlyList<Capability> Describe(
        LeaderElectionOptions election, AuditOptions audit, BackfillOptions backfill, AnalyticsOptions analytics, NatsOptions nats)
    {
        var auditOff = "ENABLE_AUDITOR=false";
        return
        [
            election.Enabled
                ? new("leader_election", true, "ENABLE_LEADER_ELECTION=true: leader-only work runs on the lease holder")
                : new("leader_election", false, "ENABLE_LEADER_ELECTION=false: this replica is always leader"),
            audit.Enabled
                ? new("auditor", true, $"every {Seconds(audit.Interval)} s, first after {Seconds(audit.InitialDelay)} s")
                : new("auditor", false, auditOff),
            !audit.Enabled ? new("duplicate_removal", false, auditOff)
                : audit.DuplicateRemoval ? new("duplicate_removal", true, "ENABLE_DUPLICATE_REMOVAL=true")
                : new("duplicate_removal", false, "ENABLE_DUPLICATE_REMOVAL=false"),
            backfill.Enabled
                ? new("backfill_orchestrator", true, $"ENABLE_BACKFILLER=true, Binance {backfill.BinanceBaseUrl}")
                : new("backfill_orchestrator", false, "ENABLE_BACKFILLER=false: POST /backfill/jobs answers 409"),
            !backfill.AutoBackfill ? new("auto_backfill", false, "ENABLE_AUTO_BACKFILL=false")
                : !audit.Enabled ? new("auto_backfill", false, auditOff)
                : new("auto_backfill", true, $"gaps of {Seconds(backfill.MinAutoBackfillGap)} s or more, at most {backfill.MaxAutoBackfillJobs} jobs"),
            analytics.Enabled
                ? new("analytics", true, $"every {Seconds(analytics.Interval)} s")
                : new("analytics", false, "ENABLE_ANALYTICS=false"),
            nats.Url is null
                ? new("tracker", false, "NATS_URL not set")
                : new("tracker", true, $"NATS {nats.Url}, subject {nats.Subject}"),
        ];
    }

    public static string Line(IEnumerable<Capability> capabilities) => string.Join("; ", capabilities);

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}
