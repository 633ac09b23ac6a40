namespace DataManager.Candles;

/// <summary>
/// The embedded demo data set: a few symbols on the extractor's timeframes, deterministic for a given
/// anchor, with a handful of realistic defects so a fresh clone shows what the audit finds.
/// Every timeframe has at least four days and at least 520 candles (enough for the analytics lookback).
/// </summary>
public static class DemoCandles
{
    public static readonly IReadOnlyList<string> Symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];

    private static readonly Dictionary<string, decimal> StartPrices = new()
    {
        ["BTCUSDT"] = 97_000m,
        ["ETHUSDT"] = 3_400m,
        ["SOLUSDT"] = 180m,
    };

    /// <summary>The defects seeded, for the README and tests: (symbol, timeframe, kind, open time offset before the anchor).</summary>
    public static IReadOnlyList<DemoDefect> Defects { get; } =
    [
        new("BTCUSDT", "15m", DemoDefectKind.Missing, TimeSpan.FromHours(14), 1),
        new("BTCUSDT", "5m", DemoDefectKind.Missing, TimeSpan.FromHours(6), 2),
        new("ETHUSDT", "1h", DemoDefectKind.Missing, TimeSpan.FromHours(10), 3),
        new("BTCUSDT", "1h", DemoDefectKind.Duplicate, TimeSpan.FromHours(5), 2),
        new("SOLUSDT", "30m", DemoDefectKind.Duplicate, TimeSpan.FromHours(20), 3),
        new("SOLUSDT", "5m", DemoDefectKind.Broken, TimeSpan.FromHours(2), 1),
    ];

    /// <summary>Candles of every demo series that had closed by <paramref name="anchor"/>.</summary>
    public static IEnumerable<(Timeframe Timeframe, Candle Candle)> Generate(DateTime anchor)
    {
        anchor = DateTime.SpecifyKind(anchor, DateTimeKind.Utc);
        foreach (var timeframe in Timeframe.ExtractorDefaults)
        {
            var end = timeframe.Floor(anchor);
            var count = Math.Max(520, (int)(TimeSpan.FromDays(4) / timeframe.Interval));
            foreach (var symbol in Symbols)
            {
                foreach (var candle in Series(symbol, timeframe, end - (count * timeframe.Interval), count, anchor))
                {
                    yield return (timeframe, candle);
                }
            }
        }
    }

    private static IEnumerable<Candle> Series(string symbol, Timeframe timeframe, DateTime start, int count, DateTime anchor)
    {
        var random = new Random(HashCode(symbol + timeframe.Name));
        var price = StartPrices[symbol];
        var defects = Defects.Where(d => d.Symbol == symbol && d.Timeframe == timeframe.Name)
            .Select(d => (Defect: d, OpenTime: timeframe.Floor(anchor - d.BeforeAnchor)))
            .ToList();
        for (var i = 0; i < count; i++)
        {
            var openTime = start + (i * timeframe.Interval);
            var step = (decimal)((random.NextDouble() - 0.5) * 0.004 * Math.Sqrt(timeframe.Interval.TotalMinutes));
            var open = price;
            var close = Round(price * (1 + step));
            var high = Round(Math.Max(open, close) * (1 + (decimal)(random.NextDouble() * 0.002)));
            var low = Round(Math.Min(open, close) * (1 - (decimal)(random.NextDouble() * 0.002)));
            var volume = Math.Round((decimal)(50 + (random.NextDouble() * 450)) * (decimal)timeframe.Interval.TotalMinutes / 5m, 8);
            price = close;

            var defect = defects.FirstOrDefault(d => openTime >= d.OpenTime && openTime < d.OpenTime + (d.Defect.Count * timeframe.Interval));
            if (defect.Defect?.Kind == DemoDefectKind.Missing)
            {
                continue;
            }

            var candle = Make(symbol, timeframe, openTime, open, high, low, close, volume, random.Next(100, 5_000));
            if (defect.Defect?.Kind == DemoDefectKind.Broken && openTime == defect.OpenTime)
            {
                candle = candle with { High = Math.Min(open, close) - 1m };
            }

            yield return candle;
            if (defect.Defect?.Kind == DemoDefectKind.Duplicate && openTime == defect.OpenTime)
            {
                // Extra rows for the same open time under another id format, written earlier by an older extractor.
                for (var copy = 1; copy < defect.Defect.Count; copy++)
                {
                    yield return candle with
                    {
                        Id = $"{symbol}-{timeframe.Name}-{openTime:yyyyMMddHHmm}-v{copy}",
                        ExtractedAt = candle.ExtractedAt.AddMinutes(-copy),
                        ExtractorVersion = "0.9.0",
                    };
                }
            }
        }
    }

    public static Candle Make(string symbol, Timeframe timeframe, DateTime openTime, decimal open, decimal high, decimal low, decimal close, decimal volume, int trades)
    {
        var quote = Math.Round(volume * (open + close) / 2m, 8);
        return new Candle
        {
            Id = Candle.ConventionalId(symbol, openTime),
            Symbol = symbol,
            Timestamp = openTime,
            OpenTime = openTime,
            // DATETIME keeps no milliseconds: open + interval − 1 ms is stored truncated to the second.
            CloseTime = openTime + timeframe.Interval - TimeSpan.FromSeconds(1),
            Interval = timeframe.Name,
            Open = open,
            High = high,
            Low = low,
            Close = close,
            Volume = volume,
            QuoteAssetVolume = quote,
            NumberOfTrades = trades,
            TakerBuyBaseAssetVolume = Math.Round(volume * 0.5m, 8),
            TakerBuyQuoteAssetVolume = Math.Round(quote * 0.5m, 8),
            PriceChange = close - open,
            PriceChangePercent = open == 0 ? null : Math.Round((close - open) / open * 100m, 4),
            ExtractedAt = openTime + timeframe.Interval + TimeSpan.FromSeconds(2),
            ExtractorVersion = "1.4.2",
            Source = "binance-futures",
        };
    }

    private static decimal Round(decimal value) => Math.Round(value, 2);

    // string.GetHashCode is randomised per process; the demo must be the same everywhere.
    private static int HashCode(string value)
    {
        var hash = 17;
        foreach (var c in value)
        {
            hash = unchecked((hash * 31) + c);
        }

        return hash;
    }
}

public enum DemoDefectKind
{
    Missing,
    Duplicate,
    Broken,
}

/// <summary>A seeded defect: <see cref="Count"/> candles missing, rows sharing one open time, or one broken candle.</summary>
public sealed record DemoDefect(string Symbol, string Timeframe, DemoDefectKind Kind, TimeSpan BeforeAnchor, int Count);
