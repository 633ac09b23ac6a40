using System.CommandLine;
using System.Globalization;
using DataManager.Candles;

namespace DataManager.Cli;

/// <summary>
/// Options whose values are checked by the rules the API applies (<see cref="SymbolName"/>,
/// <see cref="Timeframe"/>, <see cref="IsoTime"/>); a bad value is a parse error that names the option and the
/// value, e.g. <c>--timeframe: "7m" is not one of 1m,3m,…</c>.
/// </summary>
public static class CliOptions
{
    public delegate bool TryParse<T>(string text, out T value);

    public static string TimeframeNames { get; } = string.Join(",", Timeframe.All.Select(t => t.Name));

    public const string SymbolExpected = "a symbol of 2 to 20 letters or digits, e.g. BTCUSDT";

    /// <summary>An option taking exactly one value, parsed by <paramref name="tryParse"/>.</summary>
    public static Option<T> Checked<T>(string name, string description, TryParse<T> tryParse, string expected, bool required = false)
    {
        var option = new Option<T>(name)
        {
            Description = description,
            Required = required,
            Arity = ArgumentArity.ExactlyOne,
        };
        option.CustomParser = result =>
        {
            var text = result.Tokens[0].Value;
            if (tryParse(text, out var value))
            {
                return value;
            }

            result.AddError($"{name}: \"{text}\" is not {expected}");
            return default!;
        };
        return option;
    }

    /// <summary>A comma-separated list in one value; each item must pass <paramref name="tryParse"/>.</summary>
    public static Option<T[]?> CheckedList<T>(string name, string description, TryParse<T> tryParse, string expected)
    {
        var option = new Option<T[]?>(name)
        {
            Description = description,
            Arity = ArgumentArity.ExactlyOne,
            AllowMultipleArgumentsPerToken = false,
        };
        option.CustomParser = result =>
        {
            var text = result.Tokens[0].Value;
            var values = new List<T>();
            foreach (var item in text.Split(','))
            {
                if (!tryParse(item, out var value))
                {
                    result.AddError($"{name}: \"{item}\" is not {expected}");
                    return null;
                }

                values.Add(value);
            }

            return [.. values];
        };
        return option;
    }

    /// <summary>The list given, or null when the option is absent (System.CommandLine would give an empty list).</summary>
    public static T[]? ListOrNull<T>(this ParseResult parsed, Option<T[]?> option) => parsed.GetResult(option) is null ? null : parsed.GetValue(option);

    public static bool TrySymbol(string text, out string symbol)
    {
        var ok = SymbolName.TryNormalize(text, out var normalized);
        symbol = normalized ?? "";
        return ok;
    }

    public static bool TryTimeframe(string text, out Timeframe timeframe)
    {
        var ok = Timeframe.TryParseExact(text, out var parsed);
        timeframe = parsed!;
        return ok;
    }

    public static bool TryTime(string text, out DateTimeOffset? time)
    {
        var ok = IsoTime.TryParse(text, out var parsed);
        time = ok ? parsed : null;
        return ok;
    }

    /// <summary>A finite number within <c>(min, max]</c> or <c>[min, max]</c>.</summary>
    public static TryParse<double> Number(double min, double max, bool minExclusive) => (string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value)
        && (minExclusive ? value > min : value >= min) && value <= max;

    public static TryParse<string> OneOf(params string[] allowed) => (string text, out string value) =>
    {
        value = text;
        return allowed.Contains(text, StringComparer.Ordinal);
    };

    /// <summary>A time as the verbs print it: ISO 8601 UTC with <c>Z</c>, whole seconds.</summary>
    public static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
