using BenchmarkDotNet.Attributes;
using DataManager.Analytics;
using DataManager.Candles;
using DataManager.Configuration;

namespace DataManager.Benchmarks;

/// <summary>One analytics cycle's computation: 40 series (8 pairs × 5 timeframes) of 500 candles, every group and the correlation matrices.</summary>
[MemoryDiagnoser]
public class AnalyticsBenchmarks
{
    private SeriesData[] _series = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(11);
        _series = [.. SeriesOptions.DefaultPairs.SelectMany(pair => Timeframe.ExtractorDefaults.Select(timeframe =>
        {
            var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            var price = 100m;
            var candles = Enumerable.Range(0, 500).Select(i =>
            {
                var open = price;
                price = Math.Round(price * (1 + (((decimal)random.NextDouble() - 0.5m) / 50)), 4);
                return DemoCandles.Make(pair, timeframe, start + (i * timeframe.Interval), open, Math.Max(open, price) + 0.1m, Math.Min(open, price) - 0.1m, price, 10 + random.Next(100), 5);
            }).ToList();
            return new SeriesData(new SeriesKey(pair, timeframe), candles);
        }))];
    }

    [Benchmark(Description = "one cycle: 40 series x 500 candles, all groups + correlation")]
    public int Cycle()
    {
        var results = 0;
        foreach (var series in _series)
        {
            results += AnalyticsCalculator.Compute(series).Count;
        }

        foreach (var timeframe in _series.GroupBy(s => s.Series.Timeframe))
        {
            results += AnalyticsCalculator.Correlation([.. timeframe]).Values.Count;
        }

        return results;
    }
}
