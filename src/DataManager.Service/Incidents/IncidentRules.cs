using System.Security.Cryptography;
using System.Text;
using DataManager.Auditing;
using DataManager.Backfill;

namespace DataManager.Incidents;

/// <summary>One problem an audit saw, in the shape incidents are matched on.</summary>
public sealed record IncidentFinding(IncidentKind Kind, string Rule, DateTimeOffset From, DateTimeOffset To, int Size, bool SourceEmpty = false);

/// <summary>
/// How audits become incidents, as values: the findings of an audit, their severity, which open incident each
/// belongs to, and why an incident that is no longer seen was resolved. No I/O, no clock: "now" is the audit's time.
/// </summary>
public static class IncidentRules
{
    public const string MissingTablePrefix = "missing_table";

    /// <summary>A gap this long, unrepaired this long after it was due, is major.</summary>
    public static readonly TimeSpan MajorGapDuration = TimeSpan.FromHours(1);

    public static readonly TimeSpan MajorGapAge = TimeSpan.FromMinutes(30);

    /// <summary>Any gap still open this long after it was due is major.</summary>
    public static readonly TimeSpan MajorAnyGapAge = TimeSpan.FromHours(24);

    /// <summary>Whether an audit could look at the series at all (a failed audit says nothing about its incidents).</summary>
    public static bool IsJudged(AuditRecord audit) => audit.Error is null || IsMissingTable(audit);

    public static bool IsMissingTable(AuditRecord audit) => audit.Error?.StartsWith(MissingTablePrefix, StringComparison.Ordinal) == true;

    /// <summary>
    /// The audit's problems: each gap; runs of duplicated open times at most one interval apart; runs of rows
    /// breaking the same integrity rule; a stale series (freshness 0: the newest candle more than two intervals
    /// and five minutes old); a missing table.
    /// </summary>
    public static IReadOnlyList<IncidentFinding> Findings(AuditRecord audit, TimeSpan interval)
    {
        if (IsMissingTable(audit))
        {
            return [new IncidentFinding(IncidentKind.MissingTable, "", audit.WindowTo, audit.WindowTo, 0)];
        }

        if (audit.Error is not null)
        {
            return [];
        }

        var findings = audit.Gaps.Select(g => new IncidentFinding(IncidentKind.Gap, "", g.From, g.To, g.MissingCandles, g.SourceEmpty)).ToList();
        findings.AddRange(Runs(audit.Duplicates.Select(d => (d.OpenTime, Size: d.Rows - 1)), interval)
            .Select(r => new IncidentFinding(IncidentKind.Duplicate, "", r.From, r.To, r.Size)));
        foreach (var rule in audit.Integrity.GroupBy(f => f.Rule, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            findings.AddRange(Runs(rule.Select(f => (f.OpenTime, Size: 1)), interval)
                .Select(r => new IncidentFinding(IncidentKind.Integrity, rule.Key, r.From, r.To, r.Size)));
        }

        if (audit.Health is { Freshness: <= 0 })
        {
            findings.Add(new IncidentFinding(IncidentKind.Stale, "", audit.WindowTo, audit.WindowTo, 0));
        }

        return findings;
    }

    /// <summary>
    /// Stale series and missing tables are critical; integrity violations major; duplicates minor. A gap is
    /// major when it touches the newest two closed intervals, or spans an hour or more and was due 30 minutes
    /// ago or more, or was due a day ago or more; otherwise minor.
    /// </summary>
    public static IncidentSeverity Severity(IncidentFinding finding, TimeSpan interval, DateTimeOffset windowTo, DateTimeOffset asOf)
    {
        switch (finding.Kind)
        {
            case IncidentKind.Stale or IncidentKind.MissingTable:
                return IncidentSeverity.Critical;
            case IncidentKind.Integrity:
                return IncidentSeverity.Major;
            case IncidentKind.Duplicate:
                return IncidentSeverity.Minor;
        }

        var age = asOf - (finding.From + interval);
        var duration = interval * finding.Size;
        var newestClosedOpen = new DateTimeOffset(windowTo.UtcTicks / interval.Ticks * interval.Ticks, TimeSpan.Zero) - interval;
        var inNewestTwo = finding.To >= newestClosedOpen - interval;
        return inNewestTwo || (duration >= MajorGapDuration && age >= MajorGapAge) || age >= MajorAnyGapAge
            ? IncidentSeverity.Major
            : IncidentSeverity.Minor;
    }

    /// <summary>
    /// Applies one audit of a series to that series' open incidents: a finding that overlaps (or touches) an
    /// open incident of its kind updates it (a growing gap stays one incident); any other finding opens one; an
    /// open incident the audit no longer sees is resolved with its cause. Returns only the incidents that
    /// changed. An audit at or before an incident's <see cref="Incident.LastAuditAt"/> changes nothing, and new
    /// ids derive from the audit, so applying the same audit twice (e.g. after a change of leader) is harmless.
    /// </summary>
    public static IReadOnlyList<Incident> Apply(AuditRecord audit, TimeSpan interval, IReadOnlyList<Incident> openOfSeries, IReadOnlyList<BackfillJob> jobsOfSeries, long term)
    {
        if (!IsJudged(audit))
        {
            return [];
        }

        var at = audit.AuditedAt;
        var changed = new List<Incident>();
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var finding in Findings(audit, interval))
        {
            var match = openOfSeries.FirstOrDefault(i => i.State == IncidentState.Open && !claimed.Contains(i.Id) && Matches(i, finding, interval));
            if (match is not null)
            {
                claimed.Add(match.Id);
                if (match.LastAuditAt >= at)
                {
                    continue;
                }

                changed.Add(finding.SourceEmpty
                    ? Resolve(match, audit, ResolutionCause.SourceEmpty, null, term)
                    : Update(match, finding, audit, interval, term));
            }
            else if (!finding.SourceEmpty)
            {
                changed.Add(Open(finding, audit, interval, term));
            }
        }

        var judgedKinds = IsMissingTable(audit) ? [IncidentKind.MissingTable] : Enum.GetValues<IncidentKind>();
        foreach (var incident in openOfSeries.Where(i => i.State == IncidentState.Open && !claimed.Contains(i.Id) && i.LastAuditAt < at && judgedKinds.Contains(i.Kind)))
        {
            var (cause, job) = CauseOf(incident, audit, jobsOfSeries);
            changed.Add(Resolve(incident, audit, cause, job, term));
        }

        return changed;
    }

    /// <summary>Why an incident the audit no longer sees went away.</summary>
    public static (ResolutionCause Cause, string? JobId) CauseOf(Incident incident, AuditRecord audit, IReadOnlyList<BackfillJob> jobsOfSeries)
    {
        var insideWindow = incident.From >= audit.WindowFrom;
        switch (incident.Kind)
        {
            case IncidentKind.Gap:
                var end = incident.To.AddTicks(1);
                var job = jobsOfSeries
                    .Where(j => j.State == BackfillJobState.Completed && j.WrittenCandles > 0 && j.From < end && incident.From < j.To
                        && j.FinishedAt is { } finished && finished <= audit.AuditedAt && finished >= incident.OpenedAt - TimeSpan.FromMinutes(1))
                    .OrderBy(j => j.FinishedAt)
                    .FirstOrDefault();
                if (job is not null)
                {
                    return (ResolutionCause.Backfilled, job.Id);
                }

                var emptyJob = jobsOfSeries.FirstOrDefault(j => j.ConfirmedEmpty.Any(r => r.From <= incident.From && incident.To < r.To));
                if (emptyJob is not null)
                {
                    return (ResolutionCause.SourceEmpty, emptyJob.Id);
                }

                return (insideWindow ? ResolutionCause.LateWrite : ResolutionCause.Unexplained, null);
            case IncidentKind.Duplicate:
                return (insideWindow ? ResolutionCause.DuplicatesRemoved : ResolutionCause.Unexplained, null);
            case IncidentKind.Stale or IncidentKind.MissingTable:
                return (ResolutionCause.LateWrite, null);
            default:
                return (ResolutionCause.Unexplained, null);
        }
    }

    /// <summary>The same kind (and rule), and the ranges overlap or touch (one interval of slack).</summary>
    public static bool Matches(Incident incident, IncidentFinding finding, TimeSpan interval) =>
        incident.Kind == finding.Kind
        && string.Equals(incident.Rule, finding.Rule, StringComparison.Ordinal)
        && (incident.Kind is IncidentKind.Stale or IncidentKind.MissingTable
            || (incident.From <= finding.To + interval && finding.From <= incident.To + interval));

    /// <summary>A stable id: the same audit and finding always give the same incident id.</summary>
    public static string IdFor(AuditRecord audit, IncidentFinding finding)
    {
        var key = $"{audit.Id}|{audit.Symbol}|{audit.Timeframe}|{finding.Kind}|{finding.Rule}|{finding.From.UtcTicks}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..24];
    }

    private static Incident Open(IncidentFinding finding, AuditRecord audit, TimeSpan interval, long term)
    {
        var severity = Severity(finding, interval, audit.WindowTo, audit.AuditedAt);
        DateTimeOffset? due = finding.Kind == IncidentKind.Gap ? finding.From + interval : null;
        return new Incident
        {
            Id = IdFor(audit, finding),
            Symbol = audit.Symbol,
            Timeframe = audit.Timeframe,
            Kind = finding.Kind,
            Rule = finding.Rule,
            Severity = severity,
            From = finding.From,
            To = finding.To,
            Size = finding.Size,
            DueAt = due,
            OpenedAt = audit.AuditedAt,
            LastAuditAt = audit.AuditedAt,
            DetectSeconds = due is null ? null : Math.Max(0, (audit.AuditedAt - due.Value).TotalSeconds),
            Term = term,
            Timeline = [new IncidentEvent(IncidentEventKind.Opened, audit.AuditedAt, audit.AuditedAt, 1, audit.CycleId, severity, finding.Size, finding.From, finding.To)],
        };
    }

    private static Incident Update(Incident incident, IncidentFinding finding, AuditRecord audit, TimeSpan interval, long term)
    {
        var severity = (IncidentSeverity)Math.Max((int)incident.Severity, (int)Severity(finding, interval, audit.WindowTo, audit.AuditedAt));
        var last = incident.Timeline.Count > 0 ? incident.Timeline[^1] : null;
        var same = last is not null && last.Severity == severity && last.Size == finding.Size && last.From == finding.From && last.To == finding.To;
        var timeline = same
            ? [.. incident.Timeline.Take(incident.Timeline.Count - 1), last! with { Until = audit.AuditedAt, Audits = last.Audits + 1 }]
            : incident.Timeline.Append(new IncidentEvent(IncidentEventKind.Changed, audit.AuditedAt, audit.AuditedAt, 1, audit.CycleId, severity, finding.Size, finding.From, finding.To)).ToList();
        return incident with
        {
            Severity = severity,
            From = finding.From,
            To = finding.To,
            Size = finding.Size,
            LastAuditAt = audit.AuditedAt,
            Term = term,
            Timeline = timeline,
        };
    }

    private static Incident Resolve(Incident incident, AuditRecord audit, ResolutionCause cause, string? jobId, long term) => incident with
    {
        State = IncidentState.Resolved,
        ResolvedAt = audit.AuditedAt,
        Cause = cause,
        BackfillJobId = jobId,
        RepairSeconds = Math.Max(0, (audit.AuditedAt - incident.OpenedAt).TotalSeconds),
        LastAuditAt = audit.AuditedAt,
        Term = term,
        Timeline = incident.Timeline.Append(new IncidentEvent(IncidentEventKind.Resolved, audit.AuditedAt, audit.AuditedAt, 1, audit.CycleId, incident.Severity, incident.Size,
            incident.From, incident.To, cause, jobId)).ToList(),
    };

    /// <summary>Groups times (with a size each) into runs whose neighbours are at most one interval apart.</summary>
    private static IEnumerable<(DateTimeOffset From, DateTimeOffset To, int Size)> Runs(IEnumerable<(DateTimeOffset Time, int Size)> items, TimeSpan interval)
    {
        (DateTimeOffset From, DateTimeOffset To, int Size)? run = null;
        foreach (var (time, size) in items.OrderBy(i => i.Time))
        {
            if (run is { } current && time - current.To <= interval)
            {
                run = (current.From, time, current.Size + size);
                continue;
            }

            if (run is not null)
            {
                yield return run.Value;
            }

            run = (time, time, size);
        }

        if (run is not null)
        {
            yield return run.Value;
        }
    }
}
