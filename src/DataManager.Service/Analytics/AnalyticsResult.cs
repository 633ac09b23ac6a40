namespace DataManager.Analytics;

/// <summary>One metric group (volatility, volume, trend, …) of one series, computed in one cycle.</summary>
public sealed record AnalyticsResult
{
    public required string Id { get; init; }

    public required string Symbol { get; init; }

    public required string Timeframe { get; init; }

    public required string Metric { get; init; }

    public required DateTimeOffset ComputedAt { get; init; }

    public required long Term { get; init; }

    /// <summary>A value is null when there were too few candles; <see cref="Reasons"/> says why.</summary>
    public IReadOnlyDictionary<string, double?> Values { get; init; } = new Dictionary<string, double?>();

    public IReadOnlyDictionary<string, string> Reasons { get; init; } = new Dictionary<string, string>();

    /// <summary>Text results: the latest crossover and its time, the regime.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}
