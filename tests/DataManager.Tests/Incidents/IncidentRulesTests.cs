using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Incidents;

namespace DataManager.Tests.Incidents;

public sealed class IncidentRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan M1 = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan M5 = TimeSpan.FromMinutes(5);

    internal static AuditRecord Audit(DateTimeOffset at, string timeframe = "1m", IReadOnlyList<GapFinding>? gaps = null, IReadOnlyList<DuplicateFinding>? duplicates = null,
        IReadOnlyList<IntegrityFinding>? integrity = null, double freshness = 100, string? error = null, string symbol = "BTCUSDT") => new()
    {
        Id = "a" + at.ToUnixTimeSeconds() + symbol + timeframe,
        CycleId = "c" + at.ToUnixTimeSeconds(),
        Term = 1,
        Symbol = symbol,
        Timeframe = timeframe,
        WindowFrom = at.AddDays(-1),
        WindowTo = at,
        AuditedAt = at,
        Gaps = gaps ?? [],
        Duplicates = duplicates ?? [],
        Integrity = integrity ?? [],
        Health = error is null ? new HealthScore(100, freshness, 100, 100, "healthy") : null,
        Error = error,
    };

    private static List<Incident> ApplyAll(IEnumerable<AuditRecord> audits, TimeSpan interval, IReadOnlyList<BackfillJob>? jobs = null)
    {
        var all = new Dictionary<string, Incident>();
        foreach (var audit in audits)
        {
            foreach (var changed in IncidentRules.Apply(audit, interval, [.. all.Values.Where(i => i.State == IncidentState.Open)], jobs ?? [], 1))
            {
                all[changed.Id] = changed;
            }
        }

        return [.. all.Values];
    }

    [Fact]
    public void A_gap_that_grows_stays_one_incident_and_resolves_late_write_when_the_extractor_fills_it()
    {
        var gapStart = T0.AddHours(10);
        var incidents = ApplyAll(
        [
            Audit(T0.AddHours(10).AddMinutes(5), gaps: [new GapFinding(gapStart, gapStart.AddMinutes(2), 3)]),
            Audit(T0.AddHours(10).AddMinutes(10), gaps: [new GapFinding(gapStart, gapStart.AddMinutes(7), 8)]),
            Audit(T0.AddHours(10).AddMinutes(15), gaps: [new GapFinding(gapStart, gapStart.AddMinutes(7), 8)]),
            Audit(T0.AddHours(10).AddMinutes(20)),
        ], M1);

        var incident = Assert.Single(incidents);
        Assert.Equal(IncidentKind.Gap, incident.Kind);
        Assert.Equal(IncidentState.Resolved, incident.State);
        Assert.Equal(ResolutionCause.LateWrite, incident.Cause);
        Assert.Equal(8, incident.Size);
        Assert.Equal(gapStart.AddMinutes(7), incident.To);
        Assert.Equal(gapStart + M1, incident.DueAt);
        Assert.Equal(240, incident.DetectSeconds); // due 10:01, first seen 10:05
        Assert.Equal(900, incident.RepairSeconds); // seen 10:05, gone 10:20
        Assert.Equal([IncidentEventKind.Opened, IncidentEventKind.Changed, IncidentEventKind.Resolved], incident.Timeline.Select(e => e.Event).ToArray());
        Assert.Equal(2, incident.Timeline[1].Audits); // two audits saw the same 8-candle gap: one entry
    }

    [Fact]
    public void A_gap_repaired_by_a_completed_backfill_job_is_resolved_backfilled_with_the_job()
    {
        var gap = new GapFinding(T0.AddHours(1), T0.AddHours(2).AddMinutes(-1), 60);
        var job = new BackfillJob
        {
            Id = "job-1", Symbol = "BTCUSDT", Timeframe = "1m", From = T0.AddHours(1), To = T0.AddHours(2), Trigger = "auto",
            State = BackfillJobState.Completed, WrittenCandles = 60, CreatedAt = T0.AddHours(3), UpdatedAt = T0.AddHours(3).AddMinutes(2),
            FinishedAt = T0.AddHours(3).AddMinutes(2),
        };
        var incident = Assert.Single(ApplyAll([Audit(T0.AddHours(3), gaps: [gap]), Audit(T0.AddHours(3).AddMinutes(5))], M1, [job]));
        Assert.Equal(ResolutionCause.Backfilled, incident.Cause);
        Assert.Equal("job-1", incident.BackfillJobId);
        Assert.Equal("job-1", incident.Timeline[^1].BackfillJobId);
        Assert.Equal(300, incident.RepairSeconds);
    }

    [Fact]
    public void A_gap_marked_source_empty_resolves_source_empty_and_is_not_reopened()
    {
        var gap = new GapFinding(T0.AddHours(1), T0.AddHours(2).AddMinutes(-1), 60);
        var incidents = ApplyAll(
        [
            Audit(T0.AddHours(3), gaps: [gap]),
            Audit(T0.AddHours(3).AddMinutes(5), gaps: [gap with { SourceEmpty = true }]),
            Audit(T0.AddHours(3).AddMinutes(10), gaps: [gap with { SourceEmpty = true }]),
        ], M1);
        var incident = Assert.Single(incidents);
        Assert.Equal(ResolutionCause.SourceEmpty, incident.Cause);
    }

    [Fact]
    public void A_gap_never_seen_before_and_already_source_empty_opens_nothing()
    {
        var gap = new GapFinding(T0.AddHours(1), T0.AddHours(2).AddMinutes(-1), 60, SourceEmpty: true);
        Assert.Empty(ApplyAll([Audit(T0.AddHours(3), gaps: [gap])], M1));
    }

    [Fact]
    public void A_gap_that_left_the_audit_window_is_resolved_unexplained()
    {
        var gap = new GapFinding(T0.AddHours(1), T0.AddHours(1), 1);
        var incident = Assert.Single(ApplyAll([Audit(T0.AddHours(2), gaps: [gap]), Audit(T0.AddDays(1).AddHours(2))], M1));
        Assert.Equal(ResolutionCause.Unexplained, incident.Cause);
    }

    [Fact]
    public void A_duplicate_burst_is_one_incident_resolved_duplicates_removed()
    {
        var burst = Enumerable.Range(0, 20).Select(i => new DuplicateFinding(T0.AddHours(5).AddMinutes(i), 2)).ToList();
        var incident = Assert.Single(ApplyAll([Audit(T0.AddHours(6), duplicates: burst), Audit(T0.AddHours(6).AddMinutes(5))], M1));
        Assert.Equal(IncidentKind.Duplicate, incident.Kind);
        Assert.Equal(20, incident.Size);
        Assert.Equal(IncidentSeverity.Minor, incident.Severity);
        Assert.Equal(ResolutionCause.DuplicatesRemoved, incident.Cause);
        Assert.Null(incident.DetectSeconds);
    }

    [Fact]
    public void Integrity_violations_group_by_rule()
    {
        var incidents = ApplyAll([Audit(T0.AddHours(6), integrity:
        [
            new IntegrityFinding(T0.AddHours(1), "ohlc_inconsistent"), new IntegrityFinding(T0.AddHours(1).AddMinutes(1), "ohlc_inconsistent"),
            new IntegrityFinding(T0.AddHours(1), "negative_volume"),
        ])], M1);
        Assert.Equal(["negative_volume:1", "ohlc_inconsistent:2"], incidents.OrderBy(i => i.Rule, StringComparer.Ordinal).Select(i => $"{i.Rule}:{i.Size}").ToArray());
        Assert.All(incidents, i => Assert.Equal(IncidentSeverity.Major, i.Severity));
    }

    [Fact]
    public void A_stale_series_is_critical_and_resolves_late_write_when_fresh_again()
    {
        var incident = Assert.Single(ApplyAll([Audit(T0, freshness: 0), Audit(T0.AddMinutes(5), freshness: 0), Audit(T0.AddMinutes(10))], M1));
        Assert.Equal(IncidentKind.Stale, incident.Kind);
        Assert.Equal(IncidentSeverity.Critical, incident.Severity);
        Assert.Equal(ResolutionCause.LateWrite, incident.Cause);
        Assert.Equal(600, incident.RepairSeconds);
    }

    [Fact]
    public void A_missing_table_is_critical_and_leaves_other_incidents_unjudged()
    {
        var gap = new GapFinding(T0.AddHours(1), T0.AddHours(1), 1);
        var incidents = ApplyAll([Audit(T0.AddHours(2), gaps: [gap]), Audit(T0.AddHours(2).AddMinutes(5), error: "missing_table: klines_m1 does not exist")], M1);
        Assert.Equal(IncidentState.Open, incidents.Single(i => i.Kind == IncidentKind.Gap).State);
        Assert.Equal(IncidentSeverity.Critical, incidents.Single(i => i.Kind == IncidentKind.MissingTable).Severity);
    }

    [Fact]
    public void A_failed_audit_changes_nothing()
    {
        var open = ApplyAll([Audit(T0, gaps: [new GapFinding(T0.AddHours(-2), T0.AddHours(-2), 1)])], M1);
        Assert.Empty(IncidentRules.Apply(Audit(T0.AddMinutes(5), error: "connection refused"), M1, open, [], 1));
    }

    [Fact]
    public void Applying_the_same_audit_twice_changes_nothing_the_second_time()
    {
        var audit = Audit(T0, gaps: [new GapFinding(T0.AddHours(-2), T0.AddHours(-2), 1)]);
        var first = IncidentRules.Apply(audit, M1, [], [], 1);
        Assert.Empty(IncidentRules.Apply(audit, M1, first, [], 2));
        // A new leader that never saw the first write derives the same id, so the store's insert-if-absent dedupes it.
        Assert.Equal(first[0].Id, IncidentRules.Apply(audit, M1, [], [], 2)[0].Id);
    }

    public static TheoryData<string, int, int, IncidentSeverity> GapSeverities => new()
    {
        // timeframe, missing candles, minutes since the first missing candle was due, expected
        { "5m", 1, 60, IncidentSeverity.Minor },          // one 5m candle, an hour old
        { "1m", 60, 90, IncidentSeverity.Major },         // an hour of 1m data, due 90 minutes ago
        { "1m", 60, 60, IncidentSeverity.Major },         // an hour of 1m data ending in the newest two intervals
        { "1m", 10, 40, IncidentSeverity.Minor },         // ten minutes of 1m data, 40 minutes old
        { "1m", 1, 1, IncidentSeverity.Major },           // the newest closed candle missing
        { "1m", 1, 3, IncidentSeverity.Minor },           // the third newest
        { "1h", 1, 25 * 60, IncidentSeverity.Major },     // any gap open a day
    };

    [Theory]
    [MemberData(nameof(GapSeverities))]
    public void Gap_severity_follows_size_age_and_recency(string timeframe, int missing, int dueMinutesAgo, IncidentSeverity expected)
    {
        var interval = DataManager.Candles.Timeframe.Parse(timeframe).Interval;
        var now = T0.AddDays(2);
        var from = now.AddMinutes(-dueMinutesAgo) - interval;
        var to = from + (interval * (missing - 1));
        Assert.Equal(expected, IncidentRules.Severity(new IncidentFinding(IncidentKind.Gap, "", from, to, missing), interval, now, now));
    }

    [Fact]
    public void Severity_never_falls_while_an_incident_is_open()
    {
        var gapStart = T0.AddHours(10);
        // In the newest two intervals at first (major), later older and small (minor by size): stays major.
        var incidents = ApplyAll(
        [
            Audit(gapStart.AddMinutes(6), gaps: [new GapFinding(gapStart, gapStart, 1)]),
            Audit(gapStart.AddMinutes(30), gaps: [new GapFinding(gapStart, gapStart, 1)]),
        ], M5);
        Assert.Equal(IncidentSeverity.Major, Assert.Single(incidents).Severity);
    }
}
