using DataManager.Analytics;

namespace DataManager.Tests.Analytics;

/// <summary>Expected values are worked out by hand in the comments, never printed by this code.</summary>
public sealed class AnalyticsFormulasTests
{
    private const double Tolerance = 1e-6;

    [Fact]
    public void Sample_stddev_of_log_returns()
    {
        // closes 100, 110, 99, 108.9 → returns ln 1.1 = 0.0953102, ln 0.9 = −0.1053605, ln 1.1 = 0.0953102;
        // mean 0.0284200; squared deviations 0.0044743 + 0.0178972 + 0.0044743 = 0.0268458; / (3 − 1) = 0.0134229; √ = 0.1158572
        Assert.Equal(0.1158572, AnalyticsFormulas.ReturnStdDev([100, 110, 99, 108.9]).Value!.Value, 6);
        // Annualised for 1d: × √365 = 0.1158572 × 19.1049732 = 2.2134485
        Assert.Equal(365, AnalyticsFormulas.PeriodsPerYear(TimeSpan.FromDays(1)), 9);
        Assert.Equal(105_120, AnalyticsFormulas.PeriodsPerYear(TimeSpan.FromMinutes(5)), 9);
        Assert.Null(AnalyticsFormulas.ReturnStdDev([100, 101]).Value);
        Assert.Equal("needs 3 candles, have 2", AnalyticsFormulas.ReturnStdDev([100, 101]).Reason);
    }

    [Fact]
    public void Parkinson_and_garman_klass()
    {
        // H/L = e each candle, so ln(H/L) = 1: Parkinson = √(n / (4 n ln 2)) = √(1 / 2.7725887) = 0.6005612
        double e = Math.E;
        Assert.Equal(0.6005612, AnalyticsFormulas.Parkinson([e, e, e], [1, 1, 1]).Value!.Value, 6);
        // Garman–Klass with O = C: √(½ · 1²) = 0.7071068; with ln(C/O) = 0.5 too: √(0.5 − (2 ln 2 − 1) · 0.25) = √(0.5 − 0.0965736) = √0.4034264 = 0.6351586
        Assert.Equal(0.7071068, AnalyticsFormulas.GarmanKlass([1, 1], [e, e], [1, 1], [1, 1]).Value!.Value, 6);
        var c = Math.Exp(0.5);
        Assert.Equal(0.6351586, AnalyticsFormulas.GarmanKlass([1, 1], [e, e], [1, 1], [c, c]).Value!.Value, Tolerance);
    }

    [Fact]
    public void Atr_with_wilder_smoothing()
    {
        // Period 3. Candles (H, L, C): (10, 8, 9), (11, 9, 10), (12, 9, 11), (12, 10, 11), (15, 11, 14)
        // TR from the 2nd: max(2, |11−9|, |9−9|) = 2; max(3, |12−10|, |9−10|) = 3; max(2, 1, 1) = 2 → first ATR = 7/3 = 2.333333
        // 5th: TR = max(4, |15−11|, |11−11|) = 4 → ATR = (2.333333 · 2 + 4) / 3 = 2.888889
        Assert.Equal(2.888889, AnalyticsFormulas.Atr([10, 11, 12, 12, 15], [8, 9, 9, 10, 11], [9, 10, 11, 11, 14], 3).Value!.Value, 6);
        Assert.Equal("needs 15 candles, have 14", AnalyticsFormulas.Atr(new double[14], new double[14], new double[14]).Reason);
    }

    [Fact]
    public void Moving_averages()
    {
        Assert.Equal(4, AnalyticsFormulas.Sma([1, 2, 3, 4, 5], 3).Value); // (3 + 4 + 5) / 3
        // EMA(3): α = 0.5, seed SMA(1, 2, 3) = 2; then 0.5·4 + 0.5·2 = 3; 0.5·5 + 0.5·3 = 4
        Assert.Equal(4, AnalyticsFormulas.Ema([1, 2, 3, 4, 5], 3).Value);
        // EMA(3) of 2, 4, 6, 10: seed 4, then 0.5·10 + 0.5·4 = 7
        Assert.Equal(7, AnalyticsFormulas.Ema([2, 4, 6, 10], 3).Value);
        // WMA(3) of …, 2, 3, 4: (1·2 + 2·3 + 3·4) / 6 = 20 / 6
        Assert.Equal(20.0 / 6, AnalyticsFormulas.Wma([1, 2, 3, 4], 3).Value!.Value, 9);
        Assert.Null(AnalyticsFormulas.Sma([1, 2], 3).Value);
    }

    [Fact]
    public void Rate_of_change_and_log_slope()
    {
        // ROC(2) of 100, 105, 110: (110 / 100 − 1) · 100 = 10
        Assert.Equal(10, AnalyticsFormulas.Roc([100, 105, 110], 2).Value!.Value, 9);
        Assert.Equal("needs 3 candles, have 2", AnalyticsFormulas.Roc([100, 105], 2).Reason);
        // ln price = 0, 0.1, 0.2, 0.3 exactly: slope 0.1 per candle
        Assert.Equal(0.1, AnalyticsFormulas.LogPriceSlope([1, Math.Exp(0.1), Math.Exp(0.2), Math.Exp(0.3)]).Value!.Value, 9);
    }

    [Fact]
    public void Crossover_of_fast_over_slow_average()
    {
        // SMA(2) vs SMA(3) of 5, 4, 3, 4, 6: at i=2: 3.5 vs 4 (below); i=3: 3.5 vs 3.667 (below); i=4: 5 vs 4.333 (above) → golden at 4
        Assert.Equal(("golden", (int?)4, (string?)null), AnalyticsFormulas.LatestCrossover([5, 4, 3, 4, 6], 2, 3));
        // 1, 2, 3, 2, 1: i=2: 2.5 vs 2 (above); i=3: 2.5 vs 2.333 (above); i=4: 1.5 vs 2 (below) → death at 4
        Assert.Equal(("death", (int?)4, (string?)null), AnalyticsFormulas.LatestCrossover([1, 2, 3, 2, 1], 2, 3));
        Assert.Equal("none", AnalyticsFormulas.LatestCrossover([1, 2, 3, 4, 5], 2, 3).Kind);
    }

    [Fact]
    public void Bollinger_bands_with_population_sigma()
    {
        // 1 … 20: mean 10.5; population variance (n² − 1) / 12 = 399 / 12 = 33.25; σ = 5.7662813; ± 2σ = 11.5325626
        var bands = AnalyticsFormulas.Bollinger([.. Enumerable.Range(1, 20).Select(i => (double)i)]);
        Assert.Equal(10.5, bands.Middle.Value!.Value, 9);
        Assert.Equal(5.7662813, bands.Sigma.Value!.Value, 6);
        Assert.Equal(22.0325626, bands.Upper.Value!.Value, 6);
        Assert.Equal(-1.0325626, bands.Lower.Value!.Value, 6);
    }

    [Fact]
    public void Rsi_with_wilder_smoothing()
    {
        Assert.Equal(100, AnalyticsFormulas.Rsi([.. Enumerable.Range(0, 15).Select(i => (double)i)]).Value);
        // 14 alternating changes of +1 and −1: average gain = average loss = 0.5 → RS 1 → RSI 50
        double[] alternating = [.. Enumerable.Range(0, 15).Select(i => i % 2 == 0 ? 10.0 : 11.0)];
        Assert.Equal(50, AnalyticsFormulas.Rsi(alternating).Value!.Value, 9);
        // After 14 alternating changes the last close is 10; one more change of +1 (to 11):
        // gain = (0.5·13 + 1) / 14 = 0.5357143, loss = (0.5·13 + 0) / 14 = 0.4642857; RS = 1.1538462; RSI = 100 − 100 / 2.1538462 = 53.5714286
        Assert.Equal(53.5714286, AnalyticsFormulas.Rsi([.. alternating, 11]).Value!.Value, 6);
        Assert.Equal("needs 15 candles, have 14", AnalyticsFormulas.Rsi(new double[14]).Reason);
    }

    [Fact]
    public void Vwap_median_and_pearson()
    {
        // typical prices 10 (volume 1) and 20 (volume 3): (10 + 60) / 4 = 17.5
        Assert.Equal(17.5, AnalyticsFormulas.Vwap([11, 21], [9, 19], [10, 20], [1, 3]).Value!.Value, 9);
        Assert.Equal(2.5, AnalyticsFormulas.Median([4, 1, 3, 2]));
        Assert.Equal(1, AnalyticsFormulas.Pearson([1, 2, 3], [2, 4, 6]).Value!.Value, 9);
        Assert.Equal(-1, AnalyticsFormulas.Pearson([1, 2, 3], [3, 2, 1]).Value!.Value, 9);
        // x 1, 2, 3, 4 and y 1, 3, 2, 4: sxy = 4, sxx = syy = 5 → 0.8
        Assert.Equal(0.8, AnalyticsFormulas.Pearson([1, 2, 3, 4], [1, 3, 2, 4]).Value!.Value, 9);
        Assert.Equal("no variance", AnalyticsFormulas.Pearson([1, 1, 1], [1, 2, 3]).Reason);
    }
}
