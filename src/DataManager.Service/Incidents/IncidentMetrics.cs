using Prometheus;

namespace DataManager.Incidents;

/// <summary>Time to detect, time to repair, and the open incidents, for alerts and the dashboard (in the host's registry).</summary>
public sealed class IncidentMetrics(IMetricFactory factory)
{
    private static readonly double[] Buckets = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400, 259_200, 604_800];

    public Histogram DetectSeconds { get; } = factory.CreateHistogram("data_manager_incident_detect_seconds",
        "From a missing candle's due time (its close) to the first audit that saw the gap.",
        new HistogramConfiguration { Buckets = Buckets, LabelNames = ["timeframe"] });

    public Histogram RepairSeconds { get; } = factory.CreateHistogram("data_manager_incident_repair_seconds",
        "From the first audit that saw an incident to the first audit that no longer did, by cause of resolution.",
        new HistogramConfiguration { Buckets = Buckets, LabelNames = ["cause"] });

    public Gauge Open { get; } = factory.CreateGauge("data_manager_incidents_open", "Open data-quality incidents (set by the leader).", ["severity", "kind"]);

    public Counter Opened { get; } = factory.CreateCounter("data_manager_incidents_opened_total", "Data-quality incidents opened.", ["severity", "kind"]);

    private static readonly string[] Series = ["symbol", "timeframe"];

    public Counter CandlesTotal { get; } = factory.CreateCounter("data_manager_slo_candles_total",
        "Completeness SLI: expected candles whose deadline (close + two intervals) passed.", Series);

    public Counter CandlesGood { get; } = factory.CreateCounter("data_manager_slo_candles_good_total",
        "Completeness SLI: those of them present by the first audit after the deadline.", Series);

    public Counter FreshnessMinutesTotal { get; } = factory.CreateCounter("data_manager_slo_freshness_minutes_total",
        "Freshness SLI: minutes observed by the audit.", Series);

    public Counter FreshnessMinutesGood { get; } = factory.CreateCounter("data_manager_slo_freshness_minutes_good_total",
        "Freshness SLI: minutes in which the newest closed candle was at most two intervals old.", Series);

    public Gauge Objective { get; } = factory.CreateGauge("data_manager_slo_objective_ratio",
        "The configured objective of each SLI (QUALITY_SLO_COMPLETENESS, QUALITY_SLO_FRESHNESS) as a ratio.", ["slo"]);

    /// <summary>Adds a pair of audits' events (zero included, so a series' counters exist from its second audit on).</summary>
    public void Record(string symbol, string timeframe, SliEvents events)
    {
        CandlesTotal.WithLabels(symbol, timeframe).Inc(events.CandlesTotal);
        CandlesGood.WithLabels(symbol, timeframe).Inc(events.CandlesGood);
        FreshnessMinutesTotal.WithLabels(symbol, timeframe).Inc(events.MinutesTotal);
        FreshnessMinutesGood.WithLabels(symbol, timeframe).Inc(events.MinutesGood);
    }

    /// <summary>One series per open incident (value: when it opened), for the dashboard's table; bounded by what is open.</summary>
    public Gauge OpenInfo { get; } = factory.CreateGauge("data_manager_incident_open_info",
        "Each open incident (set by the leader); the value is the Unix time it opened.", ["id", "symbol", "timeframe", "kind", "severity"]);

    private readonly Lock _openInfoGate = new();
    private HashSet<string[]> _openInfoLabels = new(LabelsComparer.Instance);

    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>Sets every severity × kind pair, so a cleared pair reads 0 rather than its last value.</summary>
    public void SetOpen(IReadOnlyCollection<Incident> open)
    {
        lock (_openInfoGate)
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
