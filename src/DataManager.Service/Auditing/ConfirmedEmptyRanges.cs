using DataManager.Candles;

namespace DataManager.Auditing;

/// <summary>
/// What the audit needs to know of the exchange: the ranges of a series Binance has confirmed it has no candles
/// for (an outage, a time before the listing). A gap inside them is the source's, not ours, and is reported
/// <c>sourceEmpty</c>. The store answers from the backfill jobs that found them, in one indexed query.
/// </summary>
public interface IConfirmedEmptyRanges
{
    /// <summary>The confirmed-empty ranges of <paramref name="series"/> that overlap <c>[from, to)</c>, ordered by start.</summary>
    Task<IReadOnlyList<EmptyRange>> OverlappingAsync(SeriesKey series, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);
}

public static class SourceEmptyGaps
{
    /// <summary>The gaps, each marked <c>SourceEmpty</c> when every open time it misses lies in a confirmed-empty range.</summary>
    public static IReadOnlyList<GapFinding> Mark(IReadOnlyList<GapFinding> gaps, TimeSpan interval, IReadOnlyList<EmptyRange> empty) =>
        empty.Count == 0 ? gaps : [.. gaps.Select(g => IsCovered(g, interval, empty) ? g with { SourceEmpty = true } : g)];

    /// <summary>The window whose confirmed-empty ranges can cover the gaps: from the first missing open time to the end of the last.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Span(IReadOnlyList<GapFinding> gaps, TimeSpan interval) =>
        (gaps.Min(g => g.From), gaps.Max(g => g.To) + interval);

    private static bool IsCovered(GapFinding gap, TimeSpan interval, IReadOnlyList<EmptyRange> empty)
    {
        // Walk the missing open times range by range: each covering range lets the walk jump to its end.
        var t = gap.From;
        while (t <= gap.To)
        {
            var covering = empty.FirstOrDefault(r => r.From <= t && t < r.To);
            if (covering is null)
            {
                return false;
            }

            var steps = ((covering.To - gap.From).Ticks + interval.Ticks - 1) / interval.Ticks;
            t = gap.From + TimeSpan.FromTicks(steps * interval.Ticks);
        }

        return true;
    }
}
