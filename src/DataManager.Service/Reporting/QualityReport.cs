using System.Text.Json.Serialization;
using DataManager.Auditing;
using DataManager.Incidents;

namespace DataManager.Reporting;

/// <summary>The quality of each series over one period: SLO attainment, incidents, worst hours. Field names are part of the report's JSON contract.</summary>
public sealed record QualityReport(
    DateTimeOffset GeneratedAt,
    DateTimeOffset From,
    DateTimeOffset To,
    double Days,
    ReportObjectives Objectives,
    IReadOnlyList<SeriesQuality> Series);

/// <summary>QUALITY_SLO_COMPLETENESS and QUALITY_SLO_FRESHNESS, percent.</summary>
public sealed record ReportObjectives(double CompletenessPercent, double FreshnessPercent);

public sealed record SeriesQuality(
    string Symbol,
    string Timeframe,
    int Audits,
    DateTimeOffset? FirstAuditAt,
    DateTimeOffset? LastAuditAt,
    SloAttainment Completeness,
    SloAttainment Freshness,
    IncidentSummary Incidents,
    IReadOnlyList<HourQuality> WorstHours)
{
    /// <summary>Every hour of the period (the HTML chart); not in the JSON, where it would be 24 entries a day per series.</summary>
    [JsonIgnore]
    public IReadOnlyList<HourQuality> Hours { get; init; } = [];
}

/// <summary>
/// One SLI over the period: good and total events (candles for completeness, minutes for freshness), the share
/// good, and how much of the error budget (total × (1 − objective)) the bad events left; negative when overspent.
/// Null attainment when there was no event.
/// </summary>
public sealed record SloAttainment(
    double ObjectivePercent,
    double GoodEvents,
    double TotalEvents,
    double? AttainmentPercent,
    double? ErrorBudgetLeftPercent,
    bool? Met);

public sealed record IncidentSummary(
    int Total,
    int Open,
    IReadOnlyList<SeverityIncidents> BySeverity,
    IReadOnlyList<ReportedIncident> Items);

/// <summary>The incidents of one severity: how many, how long they lasted, and what resolved them (every cause, 0 included).</summary>
public sealed record SeverityIncidents(
    IncidentSeverity Severity,
    int Count,
    int Open,
    double TotalSeconds,
    double LongestSeconds,
    IReadOnlyDictionary<string, int> Causes);

/// <summary>An incident as of the end of the period: one resolved later reads open, its duration counted to the end.</summary>
public sealed record ReportedIncident(
    string Id,
    IncidentKind Kind,
    string Rule,
    IncidentSeverity Severity,
    IncidentState State,
    DateTimeOffset From,
    DateTimeOffset To,
    int Size,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ResolvedAt,
    ResolutionCause? Cause,
    double DurationSeconds,
    double? DetectSeconds,
    string? BackfillJobId);

/// <summary>
/// One hour: the SLI events the audits of that hour counted, the burn rate (the worse of the two SLIs' bad share
/// over their error budget share, as the alerts compute it; 1 spends the budget exactly), and the incidents open
/// at some time in it.
/// </summary>
public sealed record HourQuality(
    DateTimeOffset Hour,
    double CandlesGood,
    double CandlesTotal,
    double MinutesGood,
    double MinutesTotal,
    double BurnRate,
    int Incidents);

/// <summary>What the store holds of one series for the period: the last audit before it, its audits (any order), and the incidents of the series.</summary>
public sealed record SeriesHistory(string Symbol, string Timeframe, TimeSpan Interval, AuditRecord? Before, IReadOnlyList<AuditRecord> Audits, IReadOnlyList<Incident> Incidents);

/// <summary>Builds the report from values: no store, no clock.</summary>
public static class QualityReports
{
    public const int WorstHoursShown = 5;

    public static QualityReport Build(DateTimeOffset generatedAt, DateTimeOffset from, DateTimeOffset to, ReportObjectives objectives, IReadOnlyList<SeriesHistory> series) =>
        new(generatedAt, from, to, Math.Round((to - from).TotalDays, 3), objectives, [.. series.Select(s => Series(from, to, objectives, s))]);

    private static SeriesQuality Series(DateTimeOffset from, DateTimeOffset to, ReportObjectives objectives, SeriesHistory history)
    {
        var audits = history.Audits.Where(a => a.AuditedAt >= from && a.AuditedAt < to).OrderBy(a => a.AuditedAt).ThenBy(a => a.Id, StringComparer.Ordinal).ToList();
        var hours = new List<HourAccumulator>();
        var firstHour = new DateTimeOffset(from.UtcTicks - (from.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);
        for (var hour = firstHour; hour < to; hour = hour.AddHours(1))
        {
            hours.Add(new HourAccumulator(hour));
        }

        // As the leader counts the SLI counters: each audit adds the events since the previous audit that succeeded.
        var previous = history.Before is { Error: null } before ? before.AuditedAt : (DateTimeOffset?)null;
        foreach (var audit in audits)
        {
            var events = ServiceLevels.Between(previous, audit, history.Interval);
            hours[(int)((audit.AuditedAt - firstHour).Ticks / TimeSpan.TicksPerHour)].Add(events);
            if (audit.Error is null)
            {
                previous = audit.AuditedAt;
            }
        }

        var incidents = history.Incidents
            .Where(i => i.OpenedAt < to && (i.ResolvedAt is null || i.ResolvedAt >= from))
            .OrderBy(i => i.OpenedAt).ThenBy(i => i.Id, StringComparer.Ordinal)
            .Select(i => AsOf(i, to))
            .ToList();
        var hourly = hours.Select(h => h.ToHour(objectives, incidents.Count(i => i.OpenedAt < h.Hour.AddHours(1) && (i.ResolvedAt ?? to) > h.Hour))).ToList();
        var worst = hourly.Where(h => h.BurnRate > 0).OrderByDescending(h => h.BurnRate).ThenBy(h => h.Hour).Take(WorstHoursShown).ToList();
        return new SeriesQuality(
            history.Symbol,
            history.Timeframe,
            audits.Count,
            audits.Count > 0 ? audits[0].AuditedAt : null,
            audits.Count > 0 ? audits[^1].AuditedAt : null,
            Attainment(objectives.CompletenessPercent, hourly.Sum(h => h.CandlesGood), hourly.Sum(h => h.CandlesTotal)),
            Attainment(objectives.FreshnessPercent, hourly.Sum(h => h.MinutesGood), hourly.Sum(h => h.MinutesTotal)),
            Summary(incidents),
            worst)
        {
            Hours = hourly,
        };
    }

    public static SloAttainment Attainment(double objectivePercent, double good, double total)
    {
        if (total <= 0)
        {
            return new SloAttainment(objectivePercent, good, total, null, null, null);
        }

        var attainment = good / total * 100;
        var budget = total * (100 - objectivePercent) / 100;
        var left = (1 - ((total - good) / budget)) * 100;
        return new SloAttainment(objectivePercent, good, total, Math.Round(attainment, 4), Math.Round(left, 2), attainment >= objectivePercent);
    }

    /// <summary>The worse of the two SLIs' burn rates in an hour: bad share ÷ (1 − objective).</summary>
    public static double BurnRate(ReportObjectives objectives, double candlesGood, double candlesTotal, double minutesGood, double minutesTotal)
    {
        static double Burn(double good, double total, double objectivePercent) =>
            total <= 0 ? 0 : (total - good) / total / ((100 - objectivePercent) / 100);

        return Math.Round(Math.Max(Burn(candlesGood, candlesTotal, objectives.CompletenessPercent), Burn(minutesGood, minutesTotal, objectives.FreshnessPercent)), 2);
    }

    private static ReportedIncident AsOf(Incident incident, DateTimeOffset end)
    {
        var resolved = incident.ResolvedAt is { } at && at <= end;
        return new ReportedIncident(
            incident.Id,
            incident.Kind,
            incident.Rule,
            incident.Severity,
            resolved ? IncidentState.Resolved : IncidentState.Open,
            incident.From,
            incident.To,
            incident.Size,
            incident.OpenedAt,
            resolved ? incident.ResolvedAt : null,
            resolved ? incident.Cause : null,
            ((resolved ? incident.ResolvedAt!.Value : end) - incident.OpenedAt).TotalSeconds,
            incident.DetectSeconds,
            resolved ? incident.BackfillJobId : null);
    }

    private static IncidentSummary Summary(List<ReportedIncident> incidents)
    {
        var bySeverity = Enum.GetValues<IncidentSeverity>().Reverse().Select(severity =>
        {
            var of = incidents.Where(i => i.Severity == severity).ToList();
            var causes = Enum.GetValues<ResolutionCause>().ToDictionary(IncidentMetrics.Name, c => of.Count(i => i.Cause == c), StringComparer.Ordinal);
            return new SeverityIncidents(severity, of.Count, of.Count(i => i.State == IncidentState.Open), of.Sum(i => i.DurationSeconds),
                of.Count > 0 ? of.Max(i => i.DurationSeconds) : 0, causes);
        }).ToList();
        return new IncidentSummary(incidents.Count, incidents.Count(i => i.State == IncidentState.Open), bySeverity, incidents);
    }

    private sealed class HourAccumulator(DateTimeOffset hour)
    {
        private long _candlesGood;
        private long _candlesTotal;
        private double _minutesGood;
        private double _minutesTotal;

        public DateTimeOffset Hour => hour;

        public void Add(SliEvents events)
        {
            _candlesGood += events.CandlesGood;
            _candlesTotal += events.CandlesTotal;
            _minutesGood += events.MinutesGood;
            _minutesTotal += events.MinutesTotal;
        }

        public HourQuality ToHour(ReportObjectives objectives, int incidents) =>
            new(hour, _candlesGood, _candlesTotal, Math.Round(_minutesGood, 3), Math.Round(_minutesTotal, 3),
                BurnRate(objectives, _candlesGood, _candlesTotal, _minutesGood, _minutesTotal), incidents);
    }
}
