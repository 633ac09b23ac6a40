using System.Runtime.CompilerServices;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Incidents;
using Prometheus;

namespace DataManager.Hosting;

/// <summary>
/// Every series the dashboard or an alert reads exists from the start, at 0, on every replica and with any
/// capability off: Grafana then shows 0 instead of "no data", and rate() and increase() have a starting point.
/// Only values that are measured per series (health score, open gaps, volatility, last message time) and the
/// one series per open incident appear once measured: a 0 there would be a false reading.
/// </summary>
internal static class MetricsBaseline
{
    /// <summary>Only what an operator reads: the service's own metrics, process and GC figures, HTTP requests.</summary>
    public static void SuppressRuntimeMeters() =>
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
        {
            // .NET meters (System.Runtime, Kestrel, msquic internals) and event counters: about 95 series nobody reads.
            SuppressMeters = true,
            SuppressEventCounters = true,
            SuppressDebugMetrics = true,
            SuppressProcessMetrics = false,
        });

    public static void Publish(IReadOnlyList<SeriesKey> series)
    {
        // Types whose unlabelled metrics are static fields: creating them publishes them at 0.
        RuntimeHelpers.RunClassConstructor(typeof(AuditMetrics).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(BackfillRunner).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(BinanceWeightLimiter).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(Analytics.AnalyticsScheduler).TypeHandle);
        RuntimeHelpers.RunClassConstructor(typeof(Leadership.LeaderElector).TypeHandle);

        foreach (var state in Enum.GetValues<BackfillJobState>())
        {
            BackfillQueueMonitor.Jobs.WithLabels(state.ToString().ToLowerInvariant());
        }

        BinanceWeightLimiter.Requests.WithLabels("200");
        foreach (var severity in Enum.GetValues<IncidentSeverity>())
        {
            foreach (var kind in Enum.GetValues<IncidentKind>())
            {
                IncidentMetrics.Open.WithLabels(IncidentMetrics.Name(severity), IncidentMetrics.Name(kind));
                IncidentMetrics.Opened.WithLabels(IncidentMetrics.Name(severity), IncidentMetrics.Name(kind));
            }
        }

        foreach (var cause in Enum.GetValues<ResolutionCause>())
        {
            IncidentMetrics.RepairSeconds.WithLabels(IncidentMetrics.Name(cause));
        }

        foreach (var timeframe in series.Select(key => key.Timeframe.Name).Distinct())
        {
            IncidentMetrics.DetectSeconds.WithLabels(timeframe);
        }

        foreach (var key in series)
        {
            string[] labels = [key.Symbol, key.Timeframe.Name];
            AuditMetrics.GapsDetected.WithLabels(labels);
            AuditMetrics.DuplicatesDetected.WithLabels(labels);
            AuditMetrics.DuplicatesRemoved.WithLabels(labels);
            AuditMetrics.SeriesErrors.WithLabels(labels);
            AutoBackfillLoop.Triggered.WithLabels(labels);
            BackfillRunner.Written.WithLabels(labels);
            IncidentMetrics.CandlesTotal.WithLabels(labels);
            IncidentMetrics.CandlesGood.WithLabels(labels);
            IncidentMetrics.FreshnessMinutesTotal.WithLabels(labels);
            IncidentMetrics.FreshnessMinutesGood.WithLabels(labels);
        }
    }
}
