using DataManager.Candles;

namespace DataManager.Http;

/// <summary>
/// Checks of API inputs, the same rules the CLI applies: each failure names the parameter and what it expects.
/// Symbols are accepted in either case and upper-cased; timeframes must be an exact interval name; times must be
/// ISO 8601 with <c>Z</c> or an offset.
/// </summary>
public static class RequestValidation
{
    public const string SymbolExpected = "expected 2 to 20 letters or digits, e.g. BTCUSDT (upper-cased)";

    /// <summary>A symbol, a timeframe and a time window, each optional; returns the upper-cased symbol and the window.</summary>
    public static (string? Symbol, DateTimeOffset? From, DateTimeOffset? To) SeriesWindow(
        string? symbol, string? timeframe, string? from, string? to, Dictionary<string, string[]> errors)
    {
        var normalized = OptionalSymbol(symbol, errors);
        OptionalTimeframe(timeframe, errors);
        var fromTime = OptionalTime("from", from, errors);
        var toTime = OptionalTime("to", to, errors);
        Range(fromTime, toTime, errors);
        return (normalized, fromTime, toTime);
    }

    /// <summary>The upper-cased symbol, or null (with an error when one was given but is not a symbol).</summary>
    public static string? OptionalSymbol(string? symbol, Dictionary<string, string[]> errors)
    {
        if (symbol is null)
        {
            return null;
        }

        if (SymbolName.TryNormalize(symbol, out var normalized))
        {
            return normalized;
        }

        errors["symbol"] = [SymbolExpected];
        return null;
    }

    public static Timeframe? OptionalTimeframe(string? timeframe, Dictionary<string, string[]> errors)
    {
        if (timeframe is null)
        {
            return null;
        }

        if (Timeframe.TryParseExact(timeframe, out var parsed))
        {
            return parsed;
        }

        errors["timeframe"] = ["expected one of " + string.Join(", ", Timeframe.All.Select(t => t.Name))];
        return null;
    }

    public static DateTimeOffset? OptionalTime(string name, string? value, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (IsoTime.TryParse(value, out var time))
        {
            return time;
        }

        errors[name] = ["expected " + IsoTime.Expected];
        return null;
    }

    public static void Range(DateTimeOffset? from, DateTimeOffset? to, Dictionary<string, string[]> errors)
    {
        if (from is not null && to is not null && from >= to)
        {
            errors["to"] = ["expected to be after from"];
        }
    }

    public static (int Skip, int Limit) Page(int? skip, int? limit, int defaultLimit, int maxLimit, Dictionary<string, string[]> errors)
    {
        if (skip is < 0)
        {
            errors["skip"] = ["expected 0 or more"];
        }

        if (limit is < 1 || limit > maxLimit)
        {
            errors["limit"] = [$"expected 1 to {maxLimit}"];
        }

        return (skip ?? 0, limit ?? defaultLimit);
    }
}
