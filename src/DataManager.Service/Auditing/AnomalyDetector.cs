namespace DataManager.Auditing;

/// <summary>
/// Robust outliers over a window: the modified z-score <c>0.6745 · (x − median) / MAD</c> of log returns
/// (<c>price_spike</c>, either direction) and of log volumes (<c>volume_spike</c>, upwards). The median
/// absolute deviation ignores the tails, so one spike cannot hide another; the default threshold is high
/// enough that ordinary volatility, fat tails included, does not fire. Because quiet series (mostly unchanged
/// or one-tick returns) have a tiny MAD, a finding must also be large in absolute terms: a move of at least
/// 1 % for a price spike, at least 10× the median volume for a volume spike.
/// </summary>
public static class AnomalyDetector
{
    public const string PriceSpike = "price_spike";
    public const string VolumeSpike = "volume_spike";

    /// <summary>Smallest |log return| reported as a price spike (1 %).</summary>
    public static readonly double MinimumPriceMove = Math.Log(1.01);

    /// <summary>Smallest log volume above the median reported as a volume spike (10×).</summary>
    public static readonly double MinimumVolumeRatio = Math.Log(10);

    /// <summary>Finds anomalies in a series given oldest first (open time ticks, close, volume).</summary>
    public static IReadOnlyList<AnomalyFinding> Find(ReadOnlySpan<long> openTicks, ReadOnlySpan<float> closes, ReadOnlySpan<float> volumes, double threshold)
    {
        var findings = new List<AnomalyFinding>();
        if (openTicks.Length < 20)
        {
            return findings;
        }

        var returns = new float[openTicks.Length - 1];
        for (var i = 1; i < openTicks.Length; i++)
        {
            returns[i - 1] = closes[i] > 0 && closes[i - 1] > 0 ? MathF.Log(closes[i] / closes[i - 1]) : float.NaN;
        }

        Flag(returns, 1, openTicks, threshold, MinimumPriceMove, PriceSpike, upwardsOnly: false, findings);

        var logVolumes = new float[volumes.Length];
        for (var i = 0; i < volumes.Length; i++)
        {
            logVolumes[i] = volumes[i] > 0 ? MathF.Log(volumes[i]) : float.NaN;
        }

        Flag(logVolumes, 0, openTicks, threshold, MinimumVolumeRatio, VolumeSpike, upwardsOnly: true, findings);
        return [.. findings.OrderBy(f => f.OpenTime).ThenBy(f => f.Kind, StringComparer.Ordinal)];
    }

    private static void Flag(float[] values, int offset, ReadOnlySpan<long> openTicks, double threshold, double minimumDeviation, string kind, bool upwardsOnly, List<AnomalyFinding> findings)
    {
        var median = Median(values, v => v);
        if (double.IsNaN(median))
        {
            return;
        }

        var mad = Median(values, v => MathF.Abs(v - (float)median));
        if (!(mad > 0))
        {
            return; // a flat series has no scale to judge against
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (float.IsNaN(values[i]))
            {
                continue;
            }

            var deviation = values[i] - median;
            var z = 0.6745 * deviation / mad;
            var large = upwardsOnly ? deviation >= minimumDeviation : Math.Abs(deviation) >= minimumDeviation;
            if (large && (upwardsOnly ? z > threshold : Math.Abs(z) > threshold))
            {
                findings.Add(new AnomalyFinding(new DateTimeOffset(openTicks[i + offset], TimeSpan.Zero), kind, Math.Round(Math.Abs(z), 2)));
            }
        }
    }

    private static double Median(float[] values, Func<float, float> map)
    {
        var copy = new float[values.Length];
        var n = 0;
        foreach (var value in values)
        {
            if (!float.IsNaN(value))
            {
                copy[n++] = map(value);
            }
        }

        if (n == 0)
        {
            return double.NaN;
        }

        var span = copy.AsSpan(0, n);
        span.Sort();
        return n % 2 == 1 ? span[n / 2] : (span[(n / 2) - 1] + (double)span[n / 2]) / 2;
    }
}
