using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Incidents;

/// <summary>
/// The leader-only loop that turns audit records into incidents. The audit knows nothing of it: each
/// iteration reads the finished audit cycles after its cursor (oldest first), applies each record to its
/// series' open incidents with <see cref="IncidentRules.Apply"/>, writes what changed under the leader's term,
/// then moves the cursor. A new leader resumes from the stored cursor; re-applying a cycle the old leader
/// already applied changes nothing.
/// </summary>
public sealed partial class IncidentTracker(
    IAuditStore audits,
    IIncidentStore incidents,
    IBackfillJobStore jobs,
    IOptions<IncidentOptions> options,
    IncidentMetrics metrics,
    TimeProvider time,
    ILogger<IncidentTracker> logger) : ILeaderLoop
{
    private readonly Dictionary<(string, string), DateTimeOffset?> _lastAudited = [];
    private LeaderView? _view;
    private DateTimeOffset _lastPrune = DateTimeOffset.MinValue;

    /// <summary>On a first run (no cursor) only this many recent cycles are read.</summary>
    public const int MaxCyclesPerIteration = 50;

    public string Name => "incidents";

    public TimeSpan InitialDelay => TimeSpan.Zero;

    public TimeSpan Interval => options.Value.Interval;

    public Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken) => ApplyNewAuditsAsync(leadership.Term, cancellationToken);

    /// <summary>One iteration; returns how many incidents it wrote.</summary>
    public async Task<int> ApplyNewAuditsAsync(long term, CancellationToken cancellationToken)
    {
        // Within one term only this replica writes incidents, so its own view of the cursor and the open
        // incidents stays true; a new term (or a failed iteration) reads them from the store again.
        var view = _view is { } cached && cached.Term == term ? cached : null;
        _view = null;
        if (view is null)
        {
            // Another leader counted SLI events meanwhile: start each series afresh rather than count them twice.
            _lastAudited.Clear();
        }

        var cursor = view is null ? await incidents.ReadCursorAsync(cancellationToken) : view.Cursor;
        var open = view?.Open ?? (await incidents.OpenAsync(cancellationToken)).ToDictionary(i => i.Id, StringComparer.Ordinal);
        var cycles = (await audits.RecentCyclesAsync(MaxCyclesPerIteration, cancellationToken))
            .Where(c => c.FinishedAt is not null && (cursor is null || c.StartedAt.ToUnixTimeMilliseconds() > cursor.Value.ToUnixTimeMilliseconds()))
            .OrderBy(c => c.StartedAt)
            .ToList();
        var written = 0;
        if (cycles.Count > 0)
        {
            var completed = await jobs.ListAsync(BackfillJobState.Completed, 10_000, cancellationToken);
            var jobsBySeries = completed.ToLookup(j => (j.Symbol, j.Timeframe));
            foreach (var cycle in cycles)
            {
                var records = await audits.RecordsOfAsync(cycle, cancellationToken);
                written += await ApplyCycleAsync(cycle, records, open, jobsBySeries, term, cancellationToken);
                cursor = cycle.StartedAt;
            }

            LogApplied(logger, cycles.Count, written, open.Count, term);
        }

        metrics.SetOpen(open.Values);
        var now = time.GetUtcNow();
        if (now - _lastPrune >= TimeSpan.FromHours(1))
        {
            await incidents.PruneResolvedAsync(now - TimeSpan.FromDays(options.Value.RetentionDays), cancellationToken);
            _lastPrune = now;
        }

        _view = new LeaderView(term, cursor, open);
        return written;
    }

    /// <summary>Each series appears once per cycle, so the cycle's changes are independent and written together with the cursor.</summary>
    private async Task<int> ApplyCycleAsync(AuditCycleRecord cycle, IEnumerable<AuditRecord> records, Dictionary<string, Incident> open,
        ILookup<(string, string), BackfillJob> jobsBySeries, long term, CancellationToken cancellationToken)
    {
        var writes = new List<IncidentWrite>();
        foreach (var record in records)
        {
            if (!Timeframe.TryParse(record.Timeframe, out var timeframe))
            {
                continue;
            }

            // SLI events since this leader's previous audit of the series (none for its first: counters only ever add).
            var seriesKey = (record.Symbol, record.Timeframe);
            var previousAt = _lastAudited.GetValueOrDefault(seriesKey);
            if (record.AuditedAt > (previousAt ?? DateTimeOffset.MinValue))
            {
                metrics.Record(record.Symbol, record.Timeframe, ServiceLevels.Between(previousAt, record, timeframe.Interval));
                if (record.Error is null)
                {
                    _lastAudited[seriesKey] = record.AuditedAt;
                }
            }

            var ofSeries = open.Values.Where(i => i.Symbol == record.Symbol && i.Timeframe == record.Timeframe).ToList();
            var seriesJobs = jobsBySeries[(record.Symbol, record.Timeframe)].ToList();
            writes.AddRange(IncidentRules.Apply(record, timeframe.Interval, ofSeries, seriesJobs, term)
                .Select(i => new IncidentWrite(i, open.TryGetValue(i.Id, out var previous) ? previous.Version : 0)));
        }

        var results = await incidents.TrySaveCycleAsync(writes, cycle.StartedAt, term, cancellationToken);
        var written = 0;
        for (var n = 0; n < writes.Count; n++)
        {
            var (incident, expected) = (writes[n].Incident, writes[n].ExpectedVersion);
            if (!results[n])
            {
                // Another writer got there first (a previous leader applying the same audit): take what is stored.
                Track(open, await incidents.GetAsync(incident.Id, cancellationToken));
                LogConflict(logger, incident.Id, term);
                continue;
            }

            var saved = incident with { Version = expected + 1 };
            Track(open, saved);
            written++;
            Observe(saved, isNew: expected == 0);
        }

        return written;
    }

    private void Observe(Incident saved, bool isNew)
    {
        if (isNew)
        {
            metrics.Opened.WithLabels(IncidentMetrics.Name(saved.Severity), IncidentMetrics.Name(saved.Kind)).Inc();
            if (saved.DetectSeconds is { } detect)
            {
                metrics.DetectSeconds.WithLabels(saved.Timeframe).Observe(detect);
            }

            LogOpened(logger, saved.Id, saved.Symbol, saved.Timeframe, IncidentMetrics.Name(saved.Kind), IncidentMetrics.Name(saved.Severity), Cli.CliOptions.Iso(saved.From), Cli.CliOptions.Iso(saved.To));
        }

        if (saved.State == IncidentState.Resolved)
        {
            metrics.RepairSeconds.WithLabels(IncidentMetrics.Name(saved.Cause!.Value)).Observe(saved.RepairSeconds ?? 0);
            LogResolved(logger, saved.Id, saved.Symbol, saved.Timeframe, IncidentMetrics.Name(saved.Kind), IncidentMetrics.Name(saved.Cause!.Value), saved.RepairSeconds ?? 0);
        }
    }

    private static void Track(Dictionary<string, Incident> open, Incident? incident)
    {
        if (incident is null)
        {
            return;
        }

        if (incident.State == IncidentState.Open)
        {
            open[incident.Id] = incident;
        }
        else
        {
            open.Remove(incident.Id);
        }
    }

    private sealed record LeaderView(long Term, DateTimeOffset? Cursor, Dictionary<string, Incident> Open);

    [LoggerMessage(Level = LogLevel.Information, Message = "Incidents: applied {Cycles} audit cycles under term {Term}: {Written} incidents written, {Open} open")]
    private static partial void LogApplied(ILogger logger, int cycles, int written, int open, long term);

    // Times as the API and the verbs print them (2026-11-26T10:05:00Z), not the round-trip form's +00:00 and 7 decimals.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident {Id:l} opened: {Symbol:l}/{Timeframe:l} {Kind:l} ({Severity:l}) {From:l}..{To:l}")]
    private static partial void LogOpened(ILogger logger, string id, string symbol, string timeframe, string kind, string severity, string from, string to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Incident {Id:l} resolved: {Symbol:l}/{Timeframe:l} {Kind:l}, {Cause:l} after {Seconds:F0} s")]
    private static partial void LogResolved(ILogger logger, string id, string symbol, string timeframe, string kind, string cause, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Incident {Id:l} was already written by another writer; using the stored one (term {Term})")]
    private static partial void LogConflict(ILogger logger, string id, long term);
}
