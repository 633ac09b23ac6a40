namespace DataManager.Candles;

/// <summary>
/// One row of a <c>klines_{suffix}</c> table, as the extractor writes it. Times are UTC; prices and volumes
/// are exact decimals end to end.
/// </summary>
public sealed record Candle
{
    public required string Id { get; init; }

    public required string Symbol { get; init; }

    /// <summary>The <c>timestamp</c> column: the open time, normally equal to <see cref="OpenTime"/>.</summary>
    public required DateTime Timestamp { get; init; }

    public required DateTime OpenTime { get; init; }

    public required DateTime CloseTime { get; init; }

    public required string Interval { get; init; }

    public required decimal Open { get; init; }

    public required decimal High { get; init; }

    public required decimal Low { get; init; }

    public required decimal Close { get; init; }

    public required decimal Volume { get; init; }

    public required decimal QuoteAssetVolume { get; init; }

    public required int NumberOfTrades { get; init; }

    public required decimal TakerBuyBaseAssetVolume { get; init; }

    public required decimal TakerBuyQuoteAssetVolume { get; init; }

    public decimal? PriceChange { get; init; }

    public decimal? PriceChangePercent { get; init; }

    public required DateTime ExtractedAt { get; init; }

    public required string ExtractorVersion { get; init; }

    public required string Source { get; init; }

    /// <summary>The extractor's id convention: <c>{SYMBOL}_{open_time_ms}</c>.</summary>
    public static string ConventionalId(string symbol, DateTime openTime) =>
        $"{symbol}_{new DateTimeOffset(DateTime.SpecifyKind(openTime, DateTimeKind.Utc)).ToUnixTimeMilliseconds()}";
}

/// <summary>A candle row saved in the store before duplicate removal deleted it.</summary>
public sealed record ArchivedCandle
{
    public required string Id { get; init; }

    public required string Timeframe { get; init; }

    public required DateTimeOffset RemovedAt { get; init; }

    public required long Term { get; init; }

    public required string Reason { get; init; }

    public required Candle Row { get; init; }
}
