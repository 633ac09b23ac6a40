namespace DataManager.Analytics;

/// <summary>A computed value, or why there is none (too few candles): never a number from a partial window.</summary>
public readonly record struct Indicator(double? Value, string? Reason)
{
    public static Indicator Of(double value) => new(double.IsFinite(value) ? value : null, double.IsFinite(value) ? null : "not defined for this data");

    public static Indicator Needs(int needed, int have) => new(null, $"needs {needed} candles, have {have}");
}

/// <summary>
/// The analytics formulas as pure functions over arrays, oldest first (<c>double</c> is fine here). Each
/// documents its definition; the README repeats them.
/// </summary>
public static class AnalyticsFormulas
{
    /// <summary>Periods per year for an interval (crypto trades 365 days a year).</summary>
    public static double PeriodsPerYear(TimeSpan interval) => TimeSpan.FromDays(365) / interval;

    /// <summary>Log returns <c>ln(c[i] / c[i−1])</c>.</summary>
    public static double[] LogReturns(ReadOnlySpan<double> closes)
    {
        if (closes.Length < 2)
        {
            return [];
        }

        var returns = new double[closes.Length - 1];
        for (var i = 1; i < closes.Length; i++)
        {
            returns[i - 1] = Math.Log(closes[i] / closes[i - 1]);
        }

        return returns;
    }

    /// <summary>Sample standard deviation (n − 1) of log returns; needs 3 closes (2 returns).</summary>
    public static Indicator ReturnStdDev(ReadOnlySpan<double> closes)
    {
        if (closes.Length < 3)
        {
            return Indicator.Needs(3, closes.Length);
        }

        var r = LogReturns(closes);
        var mean = r.Average();
        return Indicator.Of(Math.Sqrt(r.Sum(x => (x - mean) * (x - mean)) / (r.Length - 1)));
    }

    /// <summary>Parkinson per period: <c>sqrt( Σ ln(H/L)² / (4 n ln 2) )</c>.</summary>
    public static Indicator Parkinson(ReadOnlySpan<double> high, ReadOnlySpan<double> low)
    {
        if (high.Length < 2)
        {
            return Indicator.Needs(2, high.Length);
        }

        double sum = 0;
        for (var i = 0; i < high.Length; i++)
        {
            var hl = Math.Log(high[i] / low[i]);
            sum += hl * hl;
        }

        return Indicator.Of(Math.Sqrt(sum / (4 * high.Length * Math.Log(2))));
    }

    /// <summary>Garman–Klass per period: <c>sqrt( (1/n) Σ [ ½ ln(H/L)² − (2 ln 2 − 1) ln(C/O)² ] )</c>.</summary>
    public static Indicator GarmanKlass(ReadOnlySpan<double> open, ReadOnlySpan<double> high, ReadOnlySpan<double> low, ReadOnlySpan<double> close)
    {
        if (open.Length < 2)
        {
            return Indicator.Needs(2, open.Length);
        }

        double sum = 0;
        for (var i = 0; i < open.Length; i++)
        {
            var hl = Math.Log(high[i] / low[i]);
            var co = Math.Log(close[i] / open[i]);
            sum += (0.5 * hl * hl) - (((2 * Math.Log(2)) - 1) * co * co);
        }

        return Indicator.Of(Math.Sqrt(Math.Max(0, sum / open.Length)));
    }

    /// <summary>
    /// Average true range (Wilder): TR[i] = max(H−L, |H−C[i−1]|, |L−C[i−1]|) from the second candle; the first
    /// ATR is the mean of the first <paramref name="period"/> TRs, then ATR = (ATR·(p−1) + TR) / p. Needs p + 1 candles.
    /// </summary>
    public static Indicator Atr(ReadOnlySpan<double> high, ReadOnlySpan<double> low, ReadOnlySpan<double> close, int period = 14)
    {
        if (close.Length < period + 1)
        {
            return Indicator.Needs(period + 1, close.Length);
        }

        double atr = 0;
        for (var i = 1; i < close.Length; i++)
        {
            var tr = Math.Max(high[i] - low[i], Math.Max(Math.Abs(high[i] - close[i - 1]), Math.Abs(low[i] - close[i - 1])));
            atr = i <= period ? atr + (tr / period) : ((atr * (period - 1)) + tr) / period;
        }

        return Indicator.Of(atr);
    }

    /// <summary>Simple moving average of the last <paramref name="period"/> values.</summary>
    public static Indicator Sma(ReadOnlySpan<double> values, int period) =>
        values.Length < period ? Indicator.Needs(period, values.Length) : Indicator.Of(Mean(values[^period..]));

    /// <summary>Exponential moving average, α = 2/(p+1), seeded with the SMA of the first p values.</summary>
    public static Indicator Ema(ReadOnlySpan<double> values, int period)
    {
        if (values.Length < period)
        {
            return Indicator.Needs(period, values.Length);
        }

        var alpha = 2.0 / (period + 1);
        var ema = Mean(values[..period]);
        for (var i = period; i < values.Length; i++)
        {
            ema = (alpha * values[i]) + ((1 - alpha) * ema);
        }

        return Indicator.Of(ema);
    }

    /// <summary>Weighted moving average of the last p values, weights 1 … p (newest heaviest).</summary>
    public static Indicator Wma(ReadOnlySpan<double> values, int period)
    {
        if (values.Length < period)
        {
            return Indicator.Needs(period, values.Length);
        }

        var last = values[^period..];
        double sum = 0;
        for (var i = 0; i < period; i++)
        {
            sum += (i + 1) * last[i];
        }

        return Indicator.Of(sum / (period * (period + 1) / 2.0));
    }

    /// <summary>Rate of change over p candles, in percent: (C / C[−p] − 1) × 100.</summary>
    public static Indicator Roc(ReadOnlySpan<double> closes, int period) =>
        closes.Length < period + 1 ? Indicator.Needs(period + 1, closes.Length) : Indicator.Of(((closes[^1] / closes[^(period + 1)]) - 1) * 100);

    /// <summary>Least-squares slope of ln(close) against the candle index (log change per candle).</summary>
    public static Indicator LogPriceSlope(ReadOnlySpan<double> closes)
    {
        if (closes.Length < 2)
        {
            return Indicator.Needs(2, closes.Length);
        }

        var n = closes.Length;
        var meanX = (n - 1) / 2.0;
        double meanY = 0;
        foreach (var c in closes)
        {
            meanY += Math.Log(c) / n;
        }

        double sxy = 0, sxx = 0;
        for (var i = 0; i < n; i++)
        {
            sxy += (i - meanX) * (Math.Log(closes[i]) - meanY);
            sxx += (i - meanX) * (i - meanX);
        }

        return Indicator.Of(sxy / sxx);
    }

    /// <summary>The latest crossing of SMA(fast) over SMA(slow): its index and direction (golden = fast rises above).</summary>
    public static (string Kind, int? Index, string? Reason) LatestCrossover(ReadOnlySpan<double> closes, int fast, int slow)
    {
        if (closes.Length < slow + 1)
        {
            return ("none", null, $"needs {slow + 1} candles, have {closes.Length}");
        }

        int? previousSign = null;
        (string Kind, int? Index) latest = ("none", null);
        for (var i = slow - 1; i < closes.Length; i++)
        {
            var difference = Mean(closes[(i - fast + 1)..(i + 1)]) - Mean(closes[(i - slow + 1)..(i + 1)]);
            var sign = Math.Sign(difference);
            if (sign != 0)
            {
                if (previousSign is { } p && p != sign)
                {
                    latest = (sign > 0 ? "golden" : "death", i);
                }

                previousSign = sign;
            }
        }

        return (latest.Kind, latest.Index, null);
    }

    /// <summary>Bollinger bands: SMA(p) ± k·σ, with σ the population standard deviation of the last p closes.</summary>
    public static (Indicator Middle, Indicator Upper, Indicator Lower, Indicator Sigma) Bollinger(ReadOnlySpan<double> closes, int period = 20, double k = 2)
    {
        if (closes.Length < period)
        {
            var needs = Indicator.Needs(period, closes.Length);
            return (needs, needs, needs, needs);
        }

        var last = closes[^period..];
        var mean = Mean(last);
        double variance = 0;
        foreach (var c in last)
        {
            variance += (c - mean) * (c - mean) / period;
        }

        var sigma = Math.Sqrt(variance);
        return (Indicator.Of(mean), Indicator.Of(mean + (k * sigma)), Indicator.Of(mean - (k * sigma)), Indicator.Of(sigma));
    }

    /// <summary>
    /// RSI (Wilder): changes d = C[i] − C[i−1]; the first average gain and loss are the means over the first p
    /// changes, then avg = (avg·(p−1) + current) / p; RSI = 100 − 100 / (1 + gain/loss), 100 with no loss. Needs p + 1 closes.
    /// </summary>
    public static Indicator Rsi(ReadOnlySpan<double> closes, int period = 14)
    {
        if (closes.Length < period + 1)
        {
            return Indicator.Needs(period + 1, closes.Length);
        }

        double gain = 0, loss = 0;
        for (var i = 1; i < closes.Length; i++)
        {
            var change = closes[i] - closes[i - 1];
            var up = Math.Max(change, 0);
            var down = Math.Max(-change, 0);
            if (i <= period)
            {
                gain += up / period;
                loss += down / period;
            }
            else
            {
                gain = ((gain * (period - 1)) + up) / period;
                loss = ((loss * (period - 1)) + down) / period;
            }
        }

        return Indicator.Of(loss == 0 ? 100 : 100 - (100 / (1 + (gain / loss))));
    }

    /// <summary>Volume-weighted average price over the window, with the typical price (H + L + C) / 3.</summary>
    public static Indicator Vwap(ReadOnlySpan<double> high, ReadOnlySpan<double> low, ReadOnlySpan<double> close, ReadOnlySpan<double> volume)
    {
        double pv = 0, v = 0;
        for (var i = 0; i < close.Length; i++)
        {
            pv += (high[i] + low[i] + close[i]) / 3 * volume[i];
            v += volume[i];
        }

        return v > 0 ? Indicator.Of(pv / v) : new Indicator(null, close.Length == 0 ? "needs 1 candles, have 0" : "no volume in the window");
    }

    public static double Median(ReadOnlySpan<double> values)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Pearson correlation; needs 3 pairs and some variance in each.</summary>
    public static Indicator Pearson(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length < 3)
        {
            return new Indicator(null, $"needs 3 aligned returns, have {x.Length}");
        }

        var mx = Mean(x);
        var my = Mean(y);
        double sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }

        return sxx == 0 || syy == 0 ? new Indicator(null, "no variance") : Indicator.Of(sxy / Math.Sqrt(sxx * syy));
    }

    public static double Mean(ReadOnlySpan<double> values)
    {
        double sum = 0;
        foreach (var v in values)
        {
            sum += v;
        }

        return sum / values.Length;
    }
}
