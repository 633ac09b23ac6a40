using Prometheus;

namespace DataManager.Auditing;

/// <summary>The audit's Prometheus metrics, created in the host's registry.</summary>
public sealed class AuditMetrics(IMetricFactory factory)
{
    private static readonly string[] Series = ["symbol", "timeframe"];

    public Histogram CycleSeconds { get; } = factory.CreateHistogram("data_manager_audit_cycle_seconds", "Duration of an audit cycle.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 14) });

    /// <summary>Gaps seen for the first time (a gap still open in the next cycle is not counted again).</summary>
    public Counter GapsDetected { get; } = factory.CreateCounter("data_manager_audit_gaps_detected_total", "Gaps newly detected by the audit.", Series);

    /// <summary>Surplus duplicate rows seen for the first time.</summary>
    public Counter DuplicatesDetected { get; } = factory.CreateCounter("data_manager_audit_duplicates_detected_total", "Duplicate candle rows newly detected by the audit.", Series);

    public Gauge HealthScore { get; } = factory.CreateGauge("data_manager_audit_health_score", "Quality score (0-100) of the series' latest audit.", Series);

    public Counter DuplicatesRemoved { get; } = factory.CreateCounter("data_manager_duplicates_removed_total", "Duplicate candle rows deleted.", Series);

    public Counter IntegrityViolations { get; } = factory.CreateCounter("data_manager_audit_integrity_violations_total", "Integrity violations newly detected, by rule.",
        ["symbol", "timeframe", "rule"]);

    public Gauge OpenGaps { get; } = factory.CreateGauge("data_manager_audit_open_gaps", "Gaps in the series' latest audit.", Series);

    public Gauge DuplicateSurplus { get; } = factory.CreateGauge("data_manager_audit_duplicate_surplus", "Surplus duplicate rows in the series' latest audit.", Series);

    /// <summary>Set only by a cycle that audited every series (see <see cref="AuditLoop.Succeeded"/>).</summary>
    public Gauge LastSuccess { get; } = factory.CreateGauge("data_manager_audit_last_success_timestamp_seconds", "Unix time the last audit cycle that audited every series finished.");

    /// <summary>The last cycle's failed series on this replica; 0 from the start, so the errors alert sees a value.</summary>
    public Gauge LastCycleSeriesErrors { get; } = factory.CreateGauge("data_manager_audit_series_errors", "Series whose audit failed in this replica's last audit cycle.");

    /// <summary>1 when ENABLE_AUDITOR is on: the stale-audit alert only applies then.</summary>
    public Gauge Enabled { get; } = factory.CreateGauge("data_manager_audit_enabled", "1 when the auditor is enabled (ENABLE_AUDITOR), else 0.");

    /// <summary>AUDIT_INTERVAL, so alerts and dashboards judge staleness against the configured cadence.</summary>
    public Gauge IntervalSeconds { get; } = factory.CreateGauge("data_manager_audit_interval_seconds", "The configured audit interval (AUDIT_INTERVAL).");

    /// <summary>Series audited in this replica's last cycle: the dashboard's "series audited per cycle".</summary>
    public Gauge LastCycleSeries { get; } = factory.CreateGauge("data_manager_audit_series_audited", "Series audited in this replica's last audit cycle.");

    /// <summary>With <see cref="OpenGaps"/>, the average size of the open gaps.</summary>
    public Gauge OpenGapSeconds { get; } = factory.CreateGauge("data_manager_audit_open_gap_seconds", "Seconds of candles missing in the gaps of the series' latest audit.", Series);

    public Counter SeriesErrors { get; } = factory.CreateCounter("data_manager_audit_series_errors_total", "Series whose audit failed (missing table, lost connection).", Series);
}
