using System.Globalization;
using DataManager.Candles;

namespace DataManager.Configuration;

/// <summary>
/// Reads the deployment's flat setting names (environment variables such as <c>AUDIT_INTERVAL</c>, or the
/// same keys at the root of appsettings.json) and parses them strictly. Every bad value becomes one line
/// naming the variable and what it expects; nothing is silently defaulted. The default passed in is the
/// options property's own initial value, so each setting's default is written once, on its property.
/// </summary>
public sealed class SettingsReader(IConfiguration configuration)
{
    private readonly List<string> _errors = [];

    public IReadOnlyList<string> Errors => _errors;

    public string? Raw(string name)
    {
        var value = configuration[name];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public string Text(string name, string defaultValue) => Raw(name) ?? defaultValue;

    /// <summary>True when the setting exists, even if set to an empty string.</summary>
    public bool IsPresent(string name) => configuration[name] is not null;

    public bool Bool(string name, bool defaultValue)
    {
        var raw = Raw(name);
        if (raw is null)
        {
            return defaultValue;
        }

        switch (raw.ToUpperInvariant())
        {
            case "TRUE" or "1" or "YES" or "ON":
                return true;
            case "FALSE" or "0" or "NO" or "OFF":
                return false;
            default:
                Fail(name, "true or false", raw);
                return defaultValue;
        }
    }

    public int WholeNumber(string name, int defaultValue, int min, int max)
    {
        var raw = Raw(name);
        if (raw is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            Fail(name, $"a whole number from {min} to {max}", raw);
            return defaultValue;
        }

        return value;
    }

    /// <summary>A duration given in seconds; fractions are allowed so tests can run with short timings.</summary>
    public TimeSpan Seconds(string name, TimeSpan defaultValue, double minSeconds, double maxSeconds) =>
        TimeSpan.FromSeconds(Number(name, defaultValue.TotalSeconds, minSeconds, maxSeconds, "a number of seconds"));

    /// <summary>A duration given as a whole number of hours.</summary>
    public TimeSpan WholeHours(string name, TimeSpan defaultValue, int min, int max) =>
        TimeSpan.FromHours(WholeNumber(name, (int)defaultValue.TotalHours, min, max));

    /// <summary>A duration given as a whole number of days.</summary>
    public TimeSpan WholeDays(string name, TimeSpan defaultValue, int min, int max) =>
        TimeSpan.FromDays(WholeNumber(name, (int)defaultValue.TotalDays, min, max));

    public double Number(string name, double defaultValue, double min, double max, string what = "a number")
    {
        var raw = Raw(name);
        if (raw is null)
        {
            return defaultValue;
        }

        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || double.IsNaN(value) || value < min || value > max)
        {
            Fail(name, $"{what} from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}", raw);
            return defaultValue;
        }

        return value;
    }

    public T Choice<T>(string name, T defaultValue, IReadOnlyDictionary<string, T> choices)
    {
        var raw = Raw(name);
        if (raw is null)
        {
            return defaultValue;
        }

        if (choices.TryGetValue(raw.ToLowerInvariant(), out var value))
        {
            return value;
        }

        Fail(name, "one of " + string.Join(", ", choices.Keys), raw);
        return defaultValue;
    }

    public IReadOnlyList<string> Symbols(string name, IReadOnlyList<string> defaultValue)
    {
        var raw = Raw(name);
        if (raw is null)
        {
            return defaultValue;
        }

        var symbols = SplitList(raw).Select(s => s.ToUpperInvariant()).Distinct().ToArray();
        var bad = symbols.Where(s => !SymbolName.IsValid(s)).ToArray();
        if (symbols.Length == 0 || bad.Length > 0)
        {
            Fail(name, "a comma-separated list of symbols matching ^[A-Z0-9]{2,20}$", raw);
            return defaultValue;
        }

        return symbols;
    }

    public IReadOnlyList<Timeframe> Timeframes(string name, IReadOnlyList<Timeframe> defaultValue)
    {
        var raw = Raw(name);
        if (raw is null)
        {
            return defaultValue;
        }

        var result = new List<Timeframe>();
        foreach (var item in SplitList(raw))
        {
            if (!Timeframe.TryParse(item, out var timeframe))
            {
                Fail(name, "a comma-separated list of intervals from " + string.Join(",", Timeframe.All.Select(t => t.Name)), raw);
                return defaultValue;
            }

            if (!result.Contains(timeframe))
            {
                result.Add(timeframe);
            }
        }

        if (result.Count == 0)
        {
            Fail(name, "at least one interval", raw);
            return defaultValue;
        }

        return result;
    }

    public Uri HttpUrl(string name, Uri defaultValue)
    {
        var raw = Raw(name);
        if (raw is null)
        {
            return defaultValue;
        }

        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            Fail(name, "an absolute http:// or https:// URL", raw);
            return defaultValue;
        }

        return uri;
    }

    public void Fail(string name, string expected, string? got) =>
        _errors.Add(got is null ? $"{name}: expected {expected}" : $"{name}: expected {expected}, got \"{Shorten(got)}\"");

    private static string[] SplitList(string raw) =>
        raw.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    // Secrets can sit in a bad value (a URI with a password): never echo more than a short prefix.
    private static string Shorten(string value) => value.Length <= 60 ? value : value[..57] + "...";
}
