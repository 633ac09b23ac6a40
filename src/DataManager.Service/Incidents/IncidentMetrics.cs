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

    private static readonly string[] Series = ["symbol", "timeframe"];

    public static readonly Counter CandlesTotal = Metrics.CreateCounter("data_manager_slo_candles_total",
        "Completeness SLI: expected candles whose deadline (close + two intervals) passed.", Series);

    public static readonly Counter CandlesGood = Metrics.CreateCounter("data_manager_slo_candles_good_total",
        "Completeness SLI: those of them present by the first audit after the deadline.", Series);

    public static readonly Counter FreshnessMinutesTotal = Metrics.CreateCounter("data_manager_slo_freshness_minutes_total",
        "Freshness SLI: minutes observed by the audit.", Series);

    public static readonly Counter FreshnessMinutesGood = Metrics.CreateCounter("data_manager_slo_freshness_minutes_good_total",
        "Freshness SLI: minutes in which the newest closed candle was at most two intervals old.", Series);

    public static readonly Gauge Objective = Metrics.CreateGauge("data_manager_slo_objective_ratio",
        "The configured objective of each SLI (QUALITY_SLO_COMPLETENESS, QUALITY_SLO_FRESHNESS) as a ratio.", ["slo"]);

    /// <summary>Adds a pair of audits' events (zero included, so a series' counters exist from its second audit on).</summary>
    public static void Record(string symbol, string timeframe, SliEvents events)
    {
        CandlesTotal.WithLabels(symbol, timeframe).Inc(events.CandlesTotal);
        CandlesGood.WithLabels(symbol, timeframe).Inc(events.CandlesGood);
        FreshnessMinutesTotal.WithLabels(symbol, timeframe).Inc(events.MinutesTotal);
        FreshnessMinutesGood.WithLabels(symbol, timeframe).Inc(events.MinutesGood);
    }

    /// <summary>One series per open incident (value: when it opened), for the dashboard's table; bounded by what is open.</summary>
    public static readonly Gauge OpenInfo = Metrics.CreateGauge("data_manager_incident_open_info",
        "Each open incident (set by the leader); the value is the Unix time it opened.", ["id", "symbol", "timeframe", "kind", "severity"]);

    private static readonly Lock OpenInfoGate = new();
    private static HashSet<string[]> _openInfoLabels = new(LabelsComparer.Instance);

    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>Sets every severity × kind pair, so a cleared pair reads 0 rather than its last value.</summary>
    public static void SetOpen(IReadOnlyCollection<Incident> open)
    {
        lock (OpenInfoGate)
        {
            var labels = new HashSet<string[]>(LabelsComparer.Instance);
            foreach (var incident in open)
            {
                string[] values = [incident.Id, incident.Symbol, incident.Timeframe, Name(incident.Kind), Name(incident.Severity)];
                OpenInfo.WithLabels(values).Set(incident.OpenedAt.ToUnixTimeMilliseconds() / 1000.0);
                labels.Add(values);
            }

            foreach (var gone in _openInfoLabels.Where(l => !labels.Contains(l)))
            {
                OpenInfo.RemoveLabelled(gone);
            }

            _openInfoLabels = labels;
        }

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

internal sealed class LabelsComparer : IEqualityComparer<string[]>
{
    public static readonly LabelsComparer Instance = new();

    public bool Equals(string[]? x, string[]? y) => x is not null && y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(string[] obj)
    {
        var hash = new HashCode();
        foreach (var value in obj)
        {
            hash.Add(value, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }
}
