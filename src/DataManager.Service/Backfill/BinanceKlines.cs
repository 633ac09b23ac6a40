using System.Globalization;
using System.Text.Json;
using DataManager.Candles;

namespace DataManager.Backfill;

/// <summary>One klines request: open times <c>[StartMs, EndMs]</c> (Binance's bounds are inclusive), at most <c>Limit</c> rows.</summary>
public readonly record struct KlineRequest(long StartMs, long EndMs, int Limit);

/// <summary>Binance USDⓈ-M request weights and how a range is cut into requests. Pure.</summary>
public static class BinanceWeights
{
    /// <summary>
    /// 499 rows cost weight 2: 249.5 candles per unit of weight, the best ratio Binance offers
    /// (99 → 99 per weight, 1000 → 200, 1500 → 150).
    /// </summary>
    public const int CandlesPerRequest = 499;

    /// <summary>Rows Binance answers when a request names no <c>limit</c>.</summary>
    public const int DefaultLimit = 500;

    /// <summary>A request's weight, set by the client that knows it, read by the handler that takes it from the budget.</summary>
    public static readonly HttpRequestOptionsKey<int> RequestWeight = new("DataManager.Backfill.BinanceWeight");

    /// <summary>Weight of <c>GET /fapi/v1/klines</c> by <c>limit</c>: 1–99 → 1, 100–499 → 2, 500–1000 → 5, more → 10.</summary>
    public static int ForLimit(int limit) => limit switch
    {
        < 100 => 1,
        < 500 => 2,
        <= 1000 => 5,
        _ => 10,
    };

    /// <summary>The requests covering open times <c>[from, to)</c> of an interval, oldest first.</summary>
    public static IEnumerable<KlineRequest> Plan(DateTimeOffset from, DateTimeOffset to, TimeSpan interval, int perRequest = CandlesPerRequest)
    {
        var step = (long)interval.TotalMilliseconds;
        var first = (from.ToUnixTimeMilliseconds() + step - 1) / step * step;
        var end = to.ToUnixTimeMilliseconds();
        for (var start = first; start < end; start += perRequest * step)
        {
            var last = Math.Min(start + ((perRequest - 1) * step), ((end - 1) / step) * step);
            yield return new KlineRequest(start, last, (int)((last - start) / step) + 1);
        }
    }
}

/// <summary>A page of klines could not be read; nothing of it may be written.</summary>
public sealed class MalformedKlinesException(string message) : Exception(message);

/// <summary>Reads Binance's kline rows into candles, prices as exact decimals; any malformed row fails the whole page.</summary>
public static class BinanceKlines
{
    public static IReadOnlyList<Candle> Parse(ReadOnlySpan<byte> json, string symbol, Timeframe timeframe, DateTime extractedAt, string extractorVersion)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw new MalformedKlinesException($"klines response is not JSON: {e.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new MalformedKlinesException($"klines response is a {document.RootElement.ValueKind}, not an array");
            }

            var candles = new List<Candle>(document.RootElement.GetArrayLength());
            var index = 0;
            foreach (var row in document.RootElement.EnumerateArray())
            {
                candles.Add(Row(row, index++, symbol, timeframe, extractedAt, extractorVersion));
            }

            return candles;
        }
    }

    private static Candle Row(JsonElement row, int index, string symbol, Timeframe timeframe, DateTime extractedAt, string extractorVersion)
    {
        if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() < 11)
        {
            throw new MalformedKlinesException($"row {index}: expected an array of at least 11 fields");
        }

        long Millis(int field) => row[field].ValueKind == JsonValueKind.Number && row[field].TryGetInt64(out var ms)
            ? ms : throw new MalformedKlinesException($"row {index}: field {field} is not a time in milliseconds");
        decimal Number(int field) => row[field].ValueKind == JsonValueKind.String
            && decimal.TryParse(row[field].GetString(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value : throw new MalformedKlinesException($"row {index}: field {field} is not a decimal string");

        var open = DateTime.UnixEpoch.AddMilliseconds(Millis(0));
        if (open.Ticks % timeframe.Interval.Ticks != 0)
        {
            throw new MalformedKlinesException($"row {index}: open time {open:O} is not on the {timeframe.Name} grid");
        }

        var trades = row[8].ValueKind == JsonValueKind.Number && row[8].TryGetInt32(out var n) ? n : throw new MalformedKlinesException($"row {index}: field 8 is not a trade count");
        var openPrice = Number(1);
        var close = Number(4);
        return new Candle
        {
            Id = Candle.ConventionalId(symbol, open),
            Symbol = symbol,
            Timestamp = open,
            OpenTime = open,
            CloseTime = DateTime.UnixEpoch.AddMilliseconds(Millis(6)),
            Interval = timeframe.Name,
            Open = openPrice,
            High = Number(2),
            Low = Number(3),
            Close = close,
            Volume = Number(5),
            QuoteAssetVolume = Number(7),
            NumberOfTrades = trades,
            TakerBuyBaseAssetVolume = Number(9),
            TakerBuyQuoteAssetVolume = Number(10),
            PriceChange = close - openPrice,
            PriceChangePercent = openPrice == 0 ? null : Math.Round((close - openPrice) / openPrice * 100m, 4),
            ExtractedAt = extractedAt,
            ExtractorVersion = extractorVersion,
            Source = "data-manager-backfill",
        };
    }
}
