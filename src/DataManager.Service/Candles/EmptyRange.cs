namespace DataManager.Candles;

/// <summary>Open times <c>[From, To)</c> the exchange has no candles for.</summary>
public sealed record EmptyRange(DateTimeOffset From, DateTimeOffset To);
