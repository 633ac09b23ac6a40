using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace DataManager.Candles;

/// <summary>
/// A Binance kline interval and the extractor table that holds it. The list is fixed: table names are only
/// ever taken from here, never built from input.
/// </summary>
public sealed class Timeframe : IEquatable<Timeframe>
{
    private Timeframe(string name, string tableSuffix, TimeSpan interval)
    {
        Name = name;
        TableSuffix = tableSuffix;
        Interval = interval;
        TableName = "klines_" + tableSuffix;
    }

    public string Name { get; }

    public string TableSuffix { get; }

    public string TableName { get; }

    public TimeSpan Interval { get; }

    public static IReadOnlyList<Timeframe> All { get; } =
    [
        new("1m", "m1", TimeSpan.FromMinutes(1)),
        new("3m", "m3", TimeSpan.FromMinutes(3)),
        new("5m", "m5", TimeSpan.FromMinutes(5)),
        new("15m", "m15", TimeSpan.FromMinutes(15)),
        new("30m", "m30", TimeSpan.FromMinutes(30)),
        new("1h", "h1", TimeSpan.FromHours(1)),
        new("2h", "h2", TimeSpan.FromHours(2)),
        new("4h", "h4", TimeSpan.FromHours(4)),
        new("6h", "h6", TimeSpan.FromHours(6)),
        new("8h", "h8", TimeSpan.FromHours(8)),
        new("12h", "h12", TimeSpan.FromHours(12)),
        new("1d", "d1", TimeSpan.FromDays(1)),
    ];

    /// <summary>The extractor's deployed tables (klines_m5, m15, m30, h1, d1), the default series list.</summary>
    public static IReadOnlyList<Timeframe> ExtractorDefaults { get; } = [.. new[] { "5m", "15m", "30m", "1h", "1d" }.Select(Parse)];

    public static Timeframe Parse(string name) =>
        TryParse(name, out var timeframe) ? timeframe : throw new ArgumentException($"Unknown timeframe '{name}'.", nameof(name));

    public static bool TryParse(string? name, [NotNullWhen(true)] out Timeframe? timeframe)
    {
        timeframe = All.FirstOrDefault(t => string.Equals(t.Name, name?.Trim(), StringComparison.Ordinal));
        return timeframe is not null;
    }

    /// <summary>A timeframe named by a caller (API or CLI): the exact name, case and all, nothing trimmed.</summary>
    public static bool TryParseExact(string? name, [NotNullWhen(true)] out Timeframe? timeframe)
    {
        timeframe = All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal));
        return timeframe is not null;
    }

    /// <summary>The open time of the candle containing <paramref name="time"/> (epoch-aligned; 1d on 00:00 UTC).</summary>
    public DateTime Floor(DateTime time) => new(time.Ticks - (time.Ticks % Interval.Ticks), DateTimeKind.Utc);

    public bool Equals(Timeframe? other) => other is not null && other.Name == Name;

    public override bool Equals(object? obj) => obj is Timeframe other && Equals(other);

    public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Name;
}

public static partial class SymbolName
{
    public static bool IsValid([NotNullWhen(true)] string? symbol) => symbol is not null && Pattern().IsMatch(symbol);

    /// <summary>
    /// A symbol named by a caller (API and CLI alike): letters in either case, upper-cased; nothing else is
    /// changed, so a trailing newline or space is an error, not trimmed away.
    /// </summary>
    public static bool TryNormalize(string? input, [NotNullWhen(true)] out string? symbol)
    {
        symbol = input?.ToUpperInvariant();
        if (IsValid(symbol))
        {
            return true;
        }

        symbol = null;
        return false;
    }

    // \z, not $: $ also matches before a final newline.
    [GeneratedRegex(@"^[A-Z0-9]{2,20}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

/// <summary>Times named by a caller (API and CLI alike): ISO 8601 with a date, a time and <c>Z</c> or an offset.</summary>
public static partial class IsoTime
{
    public const string Expected = "an ISO 8601 time with Z or an offset, e.g. 2024-01-01T00:00:00Z";

    public static bool TryParse(string? text, out DateTimeOffset utc)
    {
        utc = default;
        if (text is null || !Pattern().IsMatch(text)
            || !DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var parsed))
        {
            return false;
        }

        utc = parsed.ToUniversalTime();
        return true;
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

/// <summary>One audited or analysed series: a symbol on a timeframe.</summary>
public readonly record struct SeriesKey(string Symbol, Timeframe Timeframe)
{
    public override string ToString() => $"{Symbol}/{Timeframe.Name}";
}
