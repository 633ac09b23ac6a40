using System.Globalization;
using System.Text.RegularExpressions;

namespace DataManager.Storage;

/// <summary>
/// A store failure as one short line for operators (CLI errors, readiness, /health/leader). The MongoDB driver's
/// server-selection timeout carries a dump of its cluster view with stack traces of every heartbeat; only the
/// servers, the wait and the last connection error are kept from it.
/// </summary>
public static partial class StoreErrorText
{
    private const int MaxLength = 300;

    public static string OneLine(Exception e)
    {
        var message = e.Message;
        if (ServerSelectionTimeout().Match(message) is { Success: true } timeout)
        {
            var seconds = int.Parse(timeout.Groups["ms"].Value, CultureInfo.InvariantCulture) / 1000.0;
            var servers = EndPoint().Matches(message).Select(m => m.Groups["endpoint"].Value).Distinct(StringComparer.Ordinal).ToList();
            var causes = InnerCause().Matches(message);
            var cause = causes.Count > 0 ? ": " + causes[^1].Groups["cause"].Value.Trim() : "";
            var where = servers.Count > 0 ? string.Join(", ", servers) : "server";
            return Cut(string.Create(CultureInfo.InvariantCulture, $"MongoDB {where} did not answer within {seconds:0.#} s (server selection timeout{cause})"));
        }

        var innermost = e;
        while (innermost.InnerException is { } inner)
        {
            innermost = inner;
        }

        var first = FirstLine(message);
        var innerFirst = FirstLine(innermost.Message);
        return Cut(ReferenceEquals(innermost, e) || first.Contains(innerFirst, StringComparison.Ordinal) ? first : $"{first.TrimEnd('.')}: {innerFirst}");
    }

    private static string FirstLine(string text)
    {
        var end = text.AsSpan().IndexOfAny('\r', '\n');
        return (end < 0 ? text : text[..end]).Trim();
    }

    private static string Cut(string text) => text.Length <= MaxLength ? text : text[..(MaxLength - 1)] + "…";

    [GeneratedRegex(@"^A timeout occurred after (?<ms>\d+)ms selecting a server")]
    private static partial Regex ServerSelectionTimeout();

    [GeneratedRegex(@"EndPoint\s*:\s*""(?:[A-Za-z]+/)?(?<endpoint>[^""]+)""")]
    private static partial Regex EndPoint();

    [GeneratedRegex(@"--->\s*[\w.]+(?:\s*\(\d+\))?:\s*(?<cause>[^\r\n""]+)")]
    private static partial Regex InnerCause();
}
