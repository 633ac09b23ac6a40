using DataManager.Auditing;
using DataManager.Incidents;
using DataManager.Reporting;
using DataManager.Tests.Incidents;

namespace DataManager.Tests.Reporting;

/// <summary>
/// The report's arithmetic on six hours of a 1m series audited every 5 minutes, with an hour-long outage: the
/// extractor wrote nothing from 02:00 (the audits 02:05 to 03:00 see a growing gap and a stale series), a backfill
/// filled it by the 03:05 audit.
/// </summary>
public sealed class QualityReportTests
{
    public static readonly DateTimeOffset From = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset To = From.AddHours(6);
    private static readonly ReportObjectives Objectives = new(99.9, 99);

    public static SeriesHistory Outage(string symbol = "BTCUSDT", IReadOnlyList<Incident>? incidents = null) => new(
        symbol, "1m", TimeSpan.FromMinutes(1),
        IncidentRulesTests.Audit(From.AddMinutes(-5), symbol: symbol),
        [.. Enumerable.Range(0, 72).Select(n => AuditAt(From.AddMinutes(5 * n), symbol))],
        incidents ?? OutageIncidents(symbol));

    private static AuditRecord AuditAt(DateTimeOffset at, string symbol)
    {
        var outageStart = From.AddHours(2);
        var inOutage = at > outageStart && at <= From.AddHours(3);
        return IncidentRulesTests.Audit(at, symbol: symbol, freshness: inOutage ? 40 : 100,
            gaps: inOutage ? [new GapFinding(outageStart, at.AddMinutes(-1), (int)(at - outageStart).TotalMinutes)] : null);
    }

    public static Incident[] OutageIncidents(string symbol) =>
    [
        Incident(symbol, "gap", IncidentKind.Gap, IncidentSeverity.Major, From.AddHours(2).AddMinutes(5), From.AddHours(3).AddMinutes(5), ResolutionCause.Backfilled) with { Size = 60, DetectSeconds = 240, BackfillJobId = "job-1" },
        Incident(symbol, "stale", IncidentKind.Stale, IncidentSeverity.Critical, From.AddHours(2).AddMinutes(10), From.AddHours(3).AddMinutes(5), ResolutionCause.LateWrite),
        Incident(symbol, "dup", IncidentKind.Duplicate, IncidentSeverity.Minor, From.AddHours(5).AddMinutes(30), null, null) with { Size = 10 },
        // Resolved before the period: not in it. Resolved after its end: open as of the end.
        Incident(symbol, "old", IncidentKind.Gap, IncidentSeverity.Minor, From.AddHours(-5), From.AddHours(-1), ResolutionCause.LateWrite),
        Incident(symbol, "later", IncidentKind.Integrity, IncidentSeverity.Minor, From.AddHours(4), To.AddHours(1), ResolutionCause.Unexplained) with { Rule = "ohlc_inconsistent" },
    ];

    private static Incident Incident(string symbol, string id, IncidentKind kind, IncidentSeverity severity, DateTimeOffset opened, DateTimeOffset? resolved, ResolutionCause? cause) => new()
    {
        Id = id + "-" + symbol,
        Symbol = symbol,
        Timeframe = "1m",
        Kind = kind,
        Severity = severity,
        State = resolved is null ? IncidentState.Open : IncidentState.Resolved,
        From = opened.AddMinutes(-5),
        To = opened.AddMinutes(-1),
        OpenedAt = opened,
        LastAuditAt = resolved ?? opened,
        ResolvedAt = resolved,
        Cause = cause,
        RepairSeconds = resolved is { } r ? (r - opened).TotalSeconds : null,
        Term = 1,
    };

    [Fact]
    public void Slo_attainment_and_budget_left_count_the_events_as_the_leader_does()
    {
        var report = QualityReports.Build(To, From, To, Objectives, [Outage()]);
        Assert.Equal(0.25, report.Days);
        var series = Assert.Single(report.Series);
        Assert.Equal((72, From, To.AddMinutes(-5)), (series.Audits, series.FirstAuditAt!.Value, series.LastAuditAt!.Value));

        // 72 audits of 5 candles each; the candles opened 02:00 to 02:57 were missing when their deadline passed.
        var completeness = series.Completeness;
        Assert.Equal((360.0, 302.0), (completeness.TotalEvents, completeness.GoodEvents));
        Assert.Equal(83.8889, completeness.AttainmentPercent);
        Assert.Equal(-16011.11, completeness.ErrorBudgetLeftPercent); // 58 bad candles against a budget of 0.36
        Assert.False(completeness.Met);

        // Twelve audits (02:05 to 03:00) found the series stale: 60 bad minutes of 360.
        Assert.Equal((360.0, 300.0, 83.3333, -1566.67), (series.Freshness.TotalEvents, series.Freshness.GoodEvents, series.Freshness.AttainmentPercent!.Value, series.Freshness.ErrorBudgetLeftPercent!.Value));
    }

    [Fact]
    public void A_series_within_its_objectives_keeps_the_budget_it_did_not_spend()
    {
        var clean = QualityReports.Attainment(99.9, 9_995, 10_000);
        Assert.Equal((99.95, 50.0, true), (clean.AttainmentPercent!.Value, clean.ErrorBudgetLeftPercent!.Value, clean.Met!.Value));
        var none = QualityReports.Attainment(99.9, 0, 0);
        Assert.Equal((null, null, null), (none.AttainmentPercent, none.ErrorBudgetLeftPercent, none.Met));
    }

    [Fact]
    public void The_worst_hours_are_those_that_burned_the_budget_fastest()
    {
        var series = QualityReports.Build(To, From, To, Objectives, [Outage()]).Series[0];
        Assert.Equal(6, series.Hours.Count);

        // 02:00: the 02:00 audit's five candles were good, the next eleven audits' 55 had 53 bad ones (883× the budget).
        // 03:00: the 03:00 audit still counted five bad ones.
        Assert.Equal(
            [(From.AddHours(2), 883.33, 7.0, 60.0, 5.0, 60.0, 2), (From.AddHours(3), 83.33, 55.0, 60.0, 55.0, 60.0, 2)],
            series.WorstHours.Select(h => (h.Hour, h.BurnRate, h.CandlesGood, h.CandlesTotal, h.MinutesGood, h.MinutesTotal, h.Incidents)).ToArray());
    }

    [Fact]
    public void Incidents_of_the_period_are_grouped_by_severity_with_their_durations_and_causes()
    {
        var incidents = QualityReports.Build(To, From, To, Objectives, [Outage("ETHUSDT")]).Series[0].Incidents;
        Assert.Equal((4, 2), (incidents.Total, incidents.Open));
        Assert.Equal(["gap-ETHUSDT", "stale-ETHUSDT", "later-ETHUSDT", "dup-ETHUSDT"], incidents.Items.Select(i => i.Id).ToArray());

        var later = incidents.Items.Single(i => i.Id == "later-ETHUSDT");
        Assert.Equal((IncidentState.Open, null, null, 7200.0), (later.State, later.ResolvedAt, later.Cause, later.DurationSeconds));
        var gap = incidents.Items.Single(i => i.Id == "gap-ETHUSDT");
        Assert.Equal((IncidentState.Resolved, ResolutionCause.Backfilled, 3600.0, 240.0, "job-1"), (gap.State, gap.Cause!.Value, gap.DurationSeconds, gap.DetectSeconds!.Value, gap.BackfillJobId));

        Assert.Equal([IncidentSeverity.Critical, IncidentSeverity.Major, IncidentSeverity.Minor], incidents.BySeverity.Select(b => b.Severity).ToArray());
        var critical = incidents.BySeverity[0];
        Assert.Equal((1, 0, 3300.0, 3300.0, 1), (critical.Count, critical.Open, critical.TotalSeconds, critical.LongestSeconds, critical.Causes["late_write"]));
        var minor = incidents.BySeverity[2];
        Assert.Equal((2, 2, 9000.0, 7200.0), (minor.Count, minor.Open, minor.TotalSeconds, minor.LongestSeconds));
        Assert.Equal(["backfilled", "late_write", "duplicates_removed", "source_empty", "unexplained"], minor.Causes.Keys.ToArray());
        Assert.All(minor.Causes.Values, count => Assert.Equal(0, count));
    }

    [Fact]
    public void A_series_without_audits_reports_no_attainment_rather_than_a_perfect_one()
    {
        var series = QualityReports.Build(To, From, To, Objectives, [new SeriesHistory("SOLUSDT", "1h", TimeSpan.FromHours(1), null, [], [])]).Series[0];
        Assert.Equal((0, null, null, null), (series.Audits, series.Completeness.AttainmentPercent, series.Freshness.Met, series.FirstAuditAt));
        Assert.Empty(series.WorstHours);
    }

    [Fact]
    public void Counts_of_one_read_in_the_singular_in_markdown_and_html()
    {
        // One audit a minute after the previous one: one candle and one minute counted.
        var once = new SeriesHistory("BTCUSDT", "1m", TimeSpan.FromMinutes(1), IncidentRulesTests.Audit(From), [IncidentRulesTests.Audit(From.AddMinutes(1))], []);
        var report = QualityReports.Build(To, From, To, Objectives, [once]);
        var series = Assert.Single(report.Series);
        Assert.Equal((1, 1.0, 1.0), (series.Audits, series.Completeness.TotalEvents, series.Freshness.TotalEvents));

        var markdown = QualityReportFormats.Markdown(report);
        var html = QualityReportFormats.Html(report);
        foreach (var text in new[] { markdown, html })
        {
            Assert.Contains("(1 of 1 candle)", text, StringComparison.Ordinal);
            Assert.Contains("(1 of 1 minute)", text, StringComparison.Ordinal);
            Assert.DoesNotMatch(@"(?<![\d.])1 (audits|candles|minutes|incidents|hours)\b", text);
        }

        Assert.Contains(" 1 audit.</p>", html, StringComparison.Ordinal);
        Assert.Equal(["0 audits", "1 audit", "2 audits", "1.5 minutes"],
            new[] { (0.0, "audit", "audits"), (1, "audit", "audits"), (2, "audit", "audits"), (1.5, "minute", "minutes") }.Select(c => QualityReportFormats.Count(c.Item1, c.Item2, c.Item3)).ToArray());
    }

    [Fact]
    public void Durations_read_in_the_units_that_matter()
    {
        Assert.Equal(["45 s", "12 min", "3 h 05 min", "2 d 4 h"],
            new[] { 45.0, 720, 3 * 3600 + 300, (52 * 3600) + 120 }.Select(QualityReportFormats.Duration).ToArray());
    }
}
