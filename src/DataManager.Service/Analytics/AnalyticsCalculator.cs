using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using DataManager.Candles;

namespace DataManager.Analytics;

/// <summary>One series' candles as arrays, oldest first, one per open time.</summary>
public sealed class SeriesData
{
    public SeriesData(SeriesKey series, IReadOnlyList<Candle> candles)
    {
        Series = series;
        var distinct = candles.DistinctBy(c => c.Timestamp).OrderBy(c => c.Timestamp).ToArray();
        OpenTimes = [.. distinct.Select(c => c.Timestamp)];
        Open = [.. distinct.Select(c => (double)c.Open)];
        High = [.. distinct.Select(c => (double)c.High)];
        Low = [.. distinct.Select(c => (double)c.Low)];
        Close = [.. distinct.Select(c => (double)c.Close)];
        Volume = [.. distinct.Select(c => (double)c.Volume)];
    }

    /// <summary>From rows oldest first; of rows sharing an open time the first is kept.</summary>
    public SeriesData(SeriesKey series, OhlcvRows rows)
    {
        Series = series;
        bool First(int i) => i == 0 || rows.OpenTimes[i] != rows.OpenTimes[i - 1];
        if (Enumerable.Range(0, rows.Count).All(First))
        {
            // The normal case: one row per open time, the arrays are used as they are.
            (OpenTimes, Open, High, Low, Close, Volume) = (rows.OpenTimes, rows.Open, rows.High, rows.Low, rows.Close, rows.Volume);
            return;
        }

        var keep = Enumerable.Range(0, rows.Count).Where(First).ToArray();
        OpenTimes = [.. keep.Select(i => rows.OpenTimes[i])];
        Open = [.. keep.Select(i => rows.Open[i])];
        High = [.. keep.Select(i => rows.High[i])];
        Low = [.. keep.Select(i => rows.Low[i])];
        Close = [.. keep.Select(i => rows.Close[i])];
        Volume = [.. keep.Select(i => rows.Volume[i])];
    }

    public SeriesKey Series { get; }

    public DateTime[] OpenTimes { get; }

    public double[] Open { get; }

    public double[] High { get; }

    public double[] Low { get; }

    public double[] Close { get; }

    public double[] Volume { get; }
}

/// <summary>One metric group's outcome: numbers (null with a reason when there were too few candles) and text.</summary>
public sealed record MetricGroup(string Metric, IReadOnlyDictionary<string, double?> Values, IReadOnlyDictionary<string, string> Reasons, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// Turns a series into the metric groups (volatility, volume, trend, deviation, regime), and series of one
/// timeframe into their correlation matrix. Pure: arrays in, values out.
/// </summary>
public static class AnalyticsCalculator
{
    public static readonly IReadOnlyList<string> Groups = ["volatility", "volume", "trend", "deviation", "regime"];

    /// <summary>A trend whose drift over the window is at least this many random-walk scales (σ·√n) is trending.</summary>
    public const double TrendingStrength = 2;

    /// <summary>Annualised volatility at or above this (80 %) is volatile, when not trending.</summary>
    public const double VolatileAnnualized = 0.8;

    public static IReadOnlyList<MetricGroup> Compute(SeriesData data)
    {
        var perYear = Math.Sqrt(AnalyticsFormulas.PeriodsPerYear(data.Series.Timeframe.Interval));
        var volatility = new Builder("volatility");
        var stdDev = AnalyticsFormulas.ReturnStdDev(data.Close);
        var annualized = Scale(stdDev, perYear);
        volatility.Add("returnStdDev", stdDev);
        volatility.Add("annualized", annualized);
        volatility.Add("parkinsonAnnualized", Scale(AnalyticsFormulas.Parkinson(data.High, data.Low), perYear));
        volatility.Add("garmanKlassAnnualized", Scale(AnalyticsFormulas.GarmanKlass(data.Open, data.High, data.Low, data.Close), perYear));
        volatility.Add("atr14", AnalyticsFormulas.Atr(data.High, data.Low, data.Close, 14));

        var volume = new Builder("volume");
        var count = data.Volume.Length;
        volume.Add("total", count == 0 ? Indicator.Needs(1, 0) : Indicator.Of(data.Volume.Sum()));
        volume.Add("mean", count == 0 ? Indicator.Needs(1, 0) : Indicator.Of(data.Volume.Average()));
        volume.Add("sma20", AnalyticsFormulas.Sma(data.Volume, 20));
        volume.Add("ema20", AnalyticsFormulas.Ema(data.Volume, 20));
        var median = count == 0 ? double.NaN : AnalyticsFormulas.Median(data.Volume);
        volume.Add("spikeRatio", count == 0 ? Indicator.Needs(1, 0) : median > 0 ? Indicator.Of(data.Volume[^1] / median) : new Indicator(null, "median volume is 0"));
        volume.Add("vwap", AnalyticsFormulas.Vwap(data.High, data.Low, data.Close, data.Volume));

        var trend = new Builder("trend");
        trend.Add("sma20", AnalyticsFormulas.Sma(data.Close, 20));
        trend.Add("sma50", AnalyticsFormulas.Sma(data.Close, 50));
        trend.Add("ema20", AnalyticsFormulas.Ema(data.Close, 20));
        trend.Add("ema50", AnalyticsFormulas.Ema(data.Close, 50));
        trend.Add("wma20", AnalyticsFormulas.Wma(data.Close, 20));
        trend.Add("roc10", AnalyticsFormulas.Roc(data.Close, 10));
        var slope = AnalyticsFormulas.LogPriceSlope(data.Close);
        trend.Add("logPriceSlope", slope);
        var crossover = AnalyticsFormulas.LatestCrossover(data.Close, 20, 50);
        trend.Label("crossover", crossover.Kind);
        if (crossover.Index is { } at)
        {
            trend.Label("crossoverAt", data.OpenTimes[at].ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }
        else if (crossover.Reason is { } reason)
        {
            trend.Reason("crossover", reason);
        }

        var deviation = new Builder("deviation");
        var bands = AnalyticsFormulas.Bollinger(data.Close, 20, 2);
        deviation.Add("bollingerMiddle", bands.Middle);
        deviation.Add("bollingerUpper", bands.Upper);
        deviation.Add("bollingerLower", bands.Lower);
        deviation.Add("zScore", bands.Sigma.Value is { } sigma && bands.Middle.Value is { } middle
            ? sigma > 0 ? Indicator.Of((data.Close[^1] - middle) / sigma) : new Indicator(null, "no variance in the last 20 closes")
            : bands.Sigma);
        deviation.Add("rsi14", AnalyticsFormulas.Rsi(data.Close, 14));

        var regime = new Builder("regime");
        var strength = slope.Value is { } s && stdDev.Value is { } sd && sd > 0 && count > 2
            ? Indicator.Of(Math.Abs(s) * Math.Sqrt(count - 1) / sd)
            : stdDev.Value is null ? stdDev : slope.Value is null ? slope : new Indicator(null, "no variance");
        regime.Add("trendStrength", strength);
        regime.Add("annualizedVolatility", annualized);
        if (strength.Value is { } t && annualized.Value is { } v)
        {
            regime.Label("regime", t >= TrendingStrength ? "trending" : v >= VolatileAnnualized ? "volatile" : "ranging");
        }
        else
        {
            regime.Reason("regime", strength.Reason ?? annualized.Reason ?? "not enough data");
        }

        return [volatility.Build(), volume.Build(), trend.Build(), deviation.Build(), regime.Build()];
    }

    /// <summary>Pearson correlation of log returns between every pair of series, on the open times they share.</summary>
    public static MetricGroup Correlation(IReadOnlyList<SeriesData> series) => Correlation([.. series.Select(CorrelationInput.From)]);

    /// <summary>
    /// Pearson correlation of log returns between every pair of series, on the open times they share. Series
    /// on the same open times (every pair, in a normal cycle) reuse each series' centred returns, so a pair
    /// costs one dot product; others are aligned on their shared times first.
    /// </summary>
    public static MetricGroup Correlation(IReadOnlyList<CorrelationInput> series)
    {
        var ordered = series.OrderBy(s => s.Symbol, StringComparer.Ordinal).ToArray();
        // Sized once: 800 series are 319,600 pairs, which growing by doubling would rehash about twenty times.
        var group = new Builder("correlation", ordered.Length * (ordered.Length - 1) / 2);
        var grids = new List<DateTime[]>();
        var grid = new int[ordered.Length];
        for (var i = 0; i < ordered.Length; i++)
        {
            var at = grids.FindIndex(g => g.AsSpan().SequenceEqual(ordered[i].OpenTimes));
            grid[i] = at >= 0 ? at : grids.Count;
            if (at < 0)
            {
                grids.Add(ordered[i].OpenTimes);
            }
        }

        for (var i = 0; i < ordered.Length; i++)
        {
            var a = ordered[i];
            for (var j = i + 1; j < ordered.Length; j++)
            {
                var b = ordered[j];
                group.Add(string.Concat(a.Symbol, "~", b.Symbol), grid[i] == grid[j] ? a.CorrelateSameTimes(b) : a.CorrelateSharedTimes(b));
            }
        }

        return group.Build();
    }

    private static Indicator Scale(Indicator indicator, double factor) => indicator.Value is { } v ? Indicator.Of(v * factor) : indicator;

    private sealed class Builder(string metric, int capacity = 0)
    {
        private readonly Dictionary<string, double?> _values = new(capacity);
        private readonly Dictionary<string, string> _reasons = [];
        private readonly Dictionary<string, string> _labels = [];

        public void Add(string name, Indicator indicator)
        {
            _values[name] = indicator.Value;
            if (indicator.Reason is { } reason)
            {
                _reasons[name] = reason;
            }
        }

        public void Label(string name, string value) => _labels[name] = value;

        public void Reason(string name, string reason) => _reasons[name] = reason;

        public MetricGroup Build() => new(metric, _values, _reasons, _labels);
    }
}

/// <summary>
/// What correlation keeps of a series once its metric groups are computed: the open times, the closes and the
/// centred log returns, about 24 bytes a candle instead of the candles.
/// </summary>
public sealed class CorrelationInput
{
    private readonly double[] _centred;
    private readonly double _sumOfSquares;

    public CorrelationInput(string symbol, DateTime[] openTimes, double[] closes)
    {
        Symbol = symbol;
        OpenTimes = openTimes;
        Closes = closes;
        _centred = AnalyticsFormulas.LogReturns(closes);
        var mean = _centred.Length == 0 ? 0 : AnalyticsFormulas.Mean(_centred);
        for (var i = 0; i < _centred.Length; i++)
        {
            _centred[i] -= mean;
            _sumOfSquares += _centred[i] * _centred[i];
        }
    }

    public static CorrelationInput From(SeriesData data) => new(data.Series.Symbol, data.OpenTimes, data.Close);

    public string Symbol { get; }

    /// <summary>Distinct, ascending.</summary>
    public DateTime[] OpenTimes { get; }

    public double[] Closes { get; }

    /// <summary>Both series on the same open times: <see cref="AnalyticsFormulas.Pearson"/> from the centred returns.</summary>
    public Indicator CorrelateSameTimes(CorrelationInput other)
    {
        if (_centred.Length < 3)
        {
            return new Indicator(null, $"needs 3 aligned returns, have {_centred.Length}");
        }

        return _sumOfSquares == 0 || other._sumOfSquares == 0
            ? new Indicator(null, "no variance")
            : Indicator.Of(Dot(_centred, other._centred) / Math.Sqrt(_sumOfSquares * other._sumOfSquares));
    }

    /// <summary>On the open times both hold (a merge of the two ascending lists).</summary>
    public Indicator CorrelateSharedTimes(CorrelationInput other)
    {
        var mine = new List<double>();
        var theirs = new List<double>();
        for (int i = 0, j = 0; i < OpenTimes.Length && j < other.OpenTimes.Length;)
        {
            var order = OpenTimes[i].CompareTo(other.OpenTimes[j]);
            if (order == 0)
            {
                mine.Add(Closes[i++]);
                theirs.Add(other.Closes[j++]);
            }
            else if (order < 0)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return AnalyticsFormulas.Pearson(AnalyticsFormulas.LogReturns(CollectionsMarshal.AsSpan(mine)), AnalyticsFormulas.LogReturns(CollectionsMarshal.AsSpan(theirs)));
    }

    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var i = 0;
        var sum = Vector<double>.Zero;
        for (; i <= x.Length - Vector<double>.Count; i += Vector<double>.Count)
        {
            sum += new Vector<double>(x[i..]) * new Vector<double>(y[i..]);
        }

        var total = Vector.Sum(sum);
        for (; i < x.Length; i++)
        {
            total += x[i] * y[i];
        }

        return total;
    }
}
