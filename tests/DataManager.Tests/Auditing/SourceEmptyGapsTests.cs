using DataManager.Auditing;
using DataManager.Candles;

namespace DataManager.Tests.Auditing;

public sealed class SourceEmptyGapsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan M1 = TimeSpan.FromMinutes(1);

    private static GapFinding Gap(int fromMinute, int toMinute) => new(T0.AddMinutes(fromMinute), T0.AddMinutes(toMinute), toMinute - fromMinute + 1);

    private static EmptyRange Empty(double fromMinute, double toMinute) => new(T0.AddMinutes(fromMinute), T0.AddMinutes(toMinute));

    [Fact]
    public void A_gap_is_source_empty_only_when_every_missing_open_time_lies_in_a_confirmed_range()
    {
        var gaps = new[] { Gap(10, 19), Gap(30, 39), Gap(50, 59), Gap(70, 70) };
        var empty = new[]
        {
            Empty(0, 15), Empty(15, 20), // adjacent ranges together cover 10–19
            Empty(30, 39), // ends at 39:00, so the candle opening at 39 is not covered
            Empty(45, 55), Empty(56, 60), // a hole at 55
            Empty(69.5, 70.5), // a range cut mid-interval still covers the open time inside it
        };

        var marked = SourceEmptyGaps.Mark(gaps, M1, empty);

        Assert.Equal([true, false, false, true], marked.Select(g => g.SourceEmpty).ToArray());
        Assert.Equal(gaps.Select(g => (g.From, g.To, g.MissingCandles)), marked.Select(g => (g.From, g.To, g.MissingCandles)));
        Assert.Same(gaps, SourceEmptyGaps.Mark(gaps, M1, []));
    }

    [Fact]
    public void The_window_asked_for_spans_the_gaps_to_the_end_of_the_last_missing_candle()
    {
        Assert.Equal((T0.AddMinutes(10), T0.AddMinutes(71)), SourceEmptyGaps.Span([Gap(30, 39), Gap(10, 19), Gap(70, 70)], M1));
    }
}
