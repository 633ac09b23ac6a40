using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Incidents;
using DataManager.Leadership;
using Microsoft.Extensions.Options;

namespace DataManager.Hosting;

/// <summary>
/// Every series the dashboard or an alert reads exists from the start, at 0, on every replica and with any
/// capability off: Grafana then shows 0 instead of "no data", and rate() and increase() have a starting point.
/// Only values that are measured per series (health score, open gaps, volatility, last message time) and the
/// one series per open incident appear once measured: a 0 there would be a false reading. Runs before the
/// HTTP port opens (hosted services start before the server), so no scrape sees less.
/// </summary>
internal sealed class MetricsBaseline : IHostedService
{
    private readonly AuditMetrics _audit;
    private readonly BackfillMetrics _backfill;
    private readonly IncidentMetrics _incidents;
    private readonly AuditOptions _auditOptions;
    private readonly IncidentOptions _incidentOptions;
    private readonly IReadOnlyList<SeriesKey> _series;

    /// <remarks>
    /// Analytics and leadership metrics are taken only to be created: their metrics are unlabelled, so creating
    /// them publishes them at 0 even where their loop never runs (ENABLE_ANALYTICS=false).
    /// </remarks>
    public MetricsBaseline(
        AuditMetrics audit,
        BackfillMetrics backfill,
        IncidentMetrics incidents,
        AnalyticsMetrics analytics,
        LeadershipMetrics leadership,
        IOptions<AuditOptions> auditOptions,
        IOptions<IncidentOptions> incidentOptions,
        IOptions<SeriesOptions> seriesOptions,
        IOptions<CandleDatabaseOptions> candleOptions)
    {
        _audit = audit;
        _backfill = backfill;
        _incidents = incidents;
        _auditOptions = auditOptions.Value;
        _incidentOptions = incidentOptions.Value;
        _series = seriesOptions.Value.Scheduled(candleOptions.Value.IsEmbedded);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Publish();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Publish()
    {
        // The configuration the alerts judge against.
        _audit.Enabled.Set(_auditOptions.Enabled ? 1 : 0);
        _audit.IntervalSeconds.Set(_auditOptions.Interval.TotalSeconds);
        _incidents.Objective.WithLabels("completeness").Set(_incidentOptions.CompletenessObjective / 100);
        _incidents.Objective.WithLabels("freshness").Set(_incidentOptions.FreshnessObjective / 100);

        foreach (var state in Enum.GetValues<BackfillJobState>())
        {
            _backfill.Jobs.WithLabels(state.ToString().ToLowerInvariant());
        }

        _backfill.BinanceRequests.WithLabels("200");
        foreach (var severity in Enum.GetValues<IncidentSeverity>())
        {
            foreach (var kind in Enum.GetValues<IncidentKind>())
            {
                _incidents.Open.WithLabels(IncidentMetrics.Name(severity), IncidentMetrics.Name(kind));
                _incidents.Opened.WithLabels(IncidentMetrics.Name(severity), IncidentMetrics.Name(kind));
            }
        }

        foreach (var cause in Enum.GetValues<ResolutionCause>())
        {
            _incidents.RepairSeconds.WithLabels(IncidentMetrics.Name(cause));
        }

        foreach (var timeframe in _series.Select(key => key.Timeframe.Name).Distinct())
        {
            _incidents.DetectSeconds.WithLabels(timeframe);
        }

        foreach (var key in _series)
        {
            string[] labels = [key.Symbol, key.Timeframe.Name];
            _audit.GapsDetected.WithLabels(labels);
            _audit.DuplicatesDetected.WithLabels(labels);
            _audit.DuplicatesRemoved.WithLabels(labels);
            _audit.SeriesErrors.WithLabels(labels);
            _backfill.Triggered.WithLabels(labels);
            _backfill.Written.WithLabels(labels);
            _incidents.CandlesTotal.WithLabels(labels);
            _incidents.CandlesGood.WithLabels(labels);
            _incidents.FreshnessMinutesTotal.WithLabels(labels);
            _incidents.FreshnessMinutesGood.WithLabels(labels);
        }
    }
}
