using Prometheus;

namespace DataManager.Incidents;

/// <summary>Time to detect, time to repair, and the open incidents, for alerts and the dashboard.</summary>
public static class IncidentMetrics
{
    private static readonly double[] Buckets = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400, 259_200, 604_800];

    public static readonly Histogram DetectSeconds = Metrics.CreateHistogram("data_manager_incident_detect_seconds",
        "From a missing candle's due time (its close) to the first audit that saw the gap.",
        new HistogramConfiguration { Buckets = Buckets, LabelNames = ["timeframe"] });

    public static readonly Histogram RepairSeconds = Metrics.CreateHistogram("data_manager_incident_repair_seconds",
        "From the first audit that saw an incident to the first audit that no longer did, by cause of resolution.",
        new HistogramConfiguration { Buckets = Buckets, LabelNames = ["cause"] });

    public static readonly Gauge Open = Metrics.CreateGauge("data_manager_incidents_open", "Open data-quality incidents (set by the leader).", ["severity", "kind"]);

    public static readonly Counter Opened = Metrics.CreateCounter("data_manager_incidents_opened_total", "Data-quality incidents opened.", ["severity", "kind"]);

    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>Sets every severity × kind pair, so a cleared pair reads 0 rather than its last value.</summary>
    public static void SetOpen(IEnumerable<Incident> open)
    {
        var counts = open.GroupBy(i => (i.Severity, i.Kind)).ToDictionary(g => g.Key, g => g.Count());
        foreach (var severity in Enum.GetValues<IncidentSeverity>())
        {
            foreach (var kind in Enum.GetValues<IncidentKind>())
            {
                Open.WithLabels(Name(severity), Name(kind)).Set(counts.GetValueOrDefault((severity, kind)));
            }
        }
    }
}
