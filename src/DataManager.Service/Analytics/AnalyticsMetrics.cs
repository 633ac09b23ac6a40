using Prometheus;

namespace DataManager.Analytics;

/// <summary>The analytics loop's Prometheus metrics, created in the host's registry.</summary>
public sealed class AnalyticsMetrics(IMetricFactory factory)
{
    public Histogram CycleSeconds { get; } = factory.CreateHistogram("data_manager_analytics_cycle_seconds", "Duration of an analytics cycle.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 14) });

    public Gauge LastSuccess { get; } = factory.CreateGauge("data_manager_analytics_last_success_timestamp_seconds", "Unix time the last analytics cycle finished.");

    public Gauge Volatility { get; } = factory.CreateGauge("data_manager_volatility_annualized", "Annualised volatility of log returns.", ["symbol", "timeframe"]);

    public Gauge Regime { get; } = factory.CreateGauge("data_manager_regime", "1 for the series' current regime, 0 for the others.", ["symbol", "timeframe", "regime"]);
}
