using DataManager.Auditing;
using DataManager.Candles;

namespace DataManager.Tests.Auditing;

public sealed class AuditRulesTests
{
    private static readonly DateTime Day = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan M15 = TimeSpan.FromMinutes(15);

    private static DateTimeOffset U(DateTime t) => new(t);

    private static (IReadOnlyList<GapFinding> Gaps, GapScanner Scanner) Scan(AuditGrid grid, GapRules rules, IEnumerable<DateTime> times)
    {
        var scanner = new GapScanner(grid, rules);
        foreach (var time in times)
        {
            scanner.Add(time);
        }

        return (scanner.Finish(), scanner);
    }

    private static GapRules Rules(TimeSpan interval, double tolerance = 60, double minGap = 120) =>
        GapRules.For(interval, TimeSpan.FromSeconds(tolerance), TimeSpan.FromSeconds(minGap));

    [Fact]
    public void The_grid_holds_the_aligned_candles_closed_by_the_end_of_the_window()
    {
        Assert.Equal(new AuditGrid(Day, Day.AddHours(23).AddMinutes(45), M15, 96), AuditGrid.For(Day, Day.AddDays(1), M15));
        var partial = AuditGrid.For(Day.AddHours(10).AddMinutes(7), Day.AddHours(10).AddMinutes(52), M15);
        Assert.Equal((Day.AddHours(10).AddMinutes(15), Day.AddHours(10).AddMinutes(30), 2), (partial.First, partial.Last, partial.Size));
        var daily = AuditGrid.For(Day.AddDays(-2).AddHours(5), Day.AddDays(1).AddHours(10), TimeSpan.FromDays(1));
        Assert.Equal((Day.AddDays(-1), Day, 2), (daily.First, daily.Last, daily.Size));
        Assert.Equal(0, AuditGrid.For(Day.AddMinutes(1), Day.AddMinutes(14), M15).Size);
    }

    [Fact]
    public void Consecutive_candles_have_no_gap_and_a_missing_one_is_reported_inclusively()
    {
        var grid = AuditGrid.For(Day, Day.AddDays(1), M15);
        var all = Enumerable.Range(0, 96).Select(i => Day + (i * M15)).ToList();
        Assert.Empty(Scan(grid, Rules(M15), all).Gaps);

        var (gaps, scanner) = Scan(grid, Rules(M15), all.Where(t => t != Day.AddHours(10).AddMinutes(15)));
        Assert.Equal([new GapFinding(U(Day.AddHours(10).AddMinutes(15)), U(Day.AddHours(10).AddMinutes(15)), 1)], gaps);
        Assert.Equal(95, scanner.DistinctOnGrid);
    }

    [Theory]
    [InlineData(60, 60, 120, false)] // step exactly I + tol: not a gap
    [InlineData(61, 60, 120, false)] // a gap, but its span (61 s) is under MIN_GAP_SIZE
    [InlineData(120, 60, 120, true)] // span exactly MIN_GAP_SIZE: reported
    [InlineData(900, 60, 900, true)] // one missing candle, MIN_GAP_SIZE exactly its span
    [InlineData(900, 60, 901, false)]
    [InlineData(500, 3600, 120, true)] // tolerance is capped at I/2 = 450 s
    public void Tolerance_and_minimum_size_boundaries(int extraSeconds, double tolerance, double minGap, bool reported)
    {
        var grid = AuditGrid.For(Day, Day.AddHours(2), M15);
        var second = Day.AddMinutes(15).AddSeconds(extraSeconds);
        var times = new[] { Day, second }.Concat(Enumerable.Range(1, 20).Select(i => second + (i * M15)).Where(t => t <= grid.Last));
        var (gaps, _) = Scan(AuditGrid.For(Day, second.AddMinutes(15) > Day.AddHours(2) ? second.AddMinutes(15) : Day.AddHours(2), M15), Rules(M15, tolerance, minGap), times);
        Assert.Equal(reported, gaps.Any(g => g.From == U(Day.AddMinutes(15))));
    }

    [Fact]
    public void Missing_head_and_tail_and_an_empty_window_are_gaps()
    {
        var grid = AuditGrid.For(Day, Day.AddHours(3), M15); // 00:00 … 02:45, 12 candles
        var times = Enumerable.Range(2, 8).Select(i => Day + (i * M15)); // 00:30 … 02:15
        var (gaps, _) = Scan(grid, Rules(M15), times);
        Assert.Equal(
        [
            new GapFinding(U(Day), U(Day.AddMinutes(15)), 2),
            new GapFinding(U(Day.AddMinutes(150)), U(Day.AddMinutes(165)), 2),
        ], gaps);

        var (empty, scanner) = Scan(grid, Rules(M15), []);
        Assert.Equal([new GapFinding(U(Day), U(Day.AddMinutes(165)), 12)], empty);
        Assert.Null(scanner.Newest);
    }

    [Fact]
    public void Duplicates_do_not_count_twice_and_misaligned_times_are_not_on_the_grid()
    {
        var grid = AuditGrid.For(Day, Day.AddHours(1), M15);
        var (gaps, scanner) = Scan(grid, Rules(M15), [Day, Day, Day.AddMinutes(15), Day.AddMinutes(30), Day.AddMinutes(37), Day.AddMinutes(45)]);
        Assert.Empty(gaps);
        Assert.Equal(4, scanner.DistinctOnGrid);
        Assert.Equal(5, scanner.Distinct);
    }

    [Fact]
    public void One_minute_and_one_day_series()
    {
        var m1 = TimeSpan.FromMinutes(1);
        var grid = AuditGrid.For(Day, Day.AddHours(2), m1);
        var times = Enumerable.Range(0, 120).Select(i => Day.AddMinutes(i)).Where(t => t < Day.AddMinutes(50) || t >= Day.AddMinutes(53));
        Assert.Equal([new GapFinding(U(Day.AddMinutes(50)), U(Day.AddMinutes(52)), 3)], Scan(grid, Rules(m1), times).Gaps);
        // 1 m: tolerance is capped at 30 s, and a single missing minute (60 s) is under MIN_GAP_SIZE_SECONDS.
        Assert.Empty(Scan(grid, Rules(m1), Enumerable.Range(0, 120).Where(i => i != 7).Select(i => Day.AddMinutes(i))).Gaps);

        var d1 = TimeSpan.FromDays(1);
        var daily = AuditGrid.For(Day.AddDays(-10), Day, d1);
        var days = Enumerable.Range(0, 10).Select(i => Day.AddDays(-10 + i)).Where(t => t != Day.AddDays(-4));
        Assert.Equal([new GapFinding(U(Day.AddDays(-4)), U(Day.AddDays(-4)), 1)], Scan(daily, Rules(d1), days).Gaps);
    }

    [Fact]
    public void Health_matches_the_worked_example()
    {
        var health = HealthScoring.Score(95, 96, 1, 1, Day.AddHours(23).AddMinutes(45), M15, Day.AddDays(1));
        Assert.Equal(new HealthScore(98.96, 100, 85, 93.58, "healthy"), health);
    }

    [Theory]
    [InlineData(0, 0, 100)]
    [InlineData(1, 0, 90)]
    [InlineData(5, 0, 50)]
    [InlineData(7, 0, 50)]
    [InlineData(0, 6, 70)]
    [InlineData(0, 10, 70)]
    [InlineData(9, 9, 20)]
    public void Consistency_penalties_are_capped(int gaps, int surplus, double expected) =>
        Assert.Equal(expected, HealthScoring.Consistency(gaps, surplus));

    [Fact]
    public void Freshness_is_timeframe_aware_and_judged_as_of_the_window_end()
    {
        var d1 = TimeSpan.FromDays(1);
        Assert.Equal(100, HealthScoring.Freshness(Day.AddDays(-1), d1, Day.AddHours(10))); // yesterday's daily candle is fresh
        Assert.Equal(100, HealthScoring.Freshness(Day.AddHours(9).AddMinutes(45), M15, Day.AddHours(10).AddMinutes(10)));
        Assert.Equal(50, HealthScoring.Freshness(Day.AddHours(9).AddMinutes(30), M15, Day.AddHours(10).AddMinutes(2).AddSeconds(30)));
        Assert.Equal(0, HealthScoring.Freshness(Day.AddHours(8), M15, Day.AddHours(10)));
        Assert.Equal(0, HealthScoring.Freshness(null, M15, Day));
    }

    [Theory]
    [InlineData(90, "healthy")]
    [InlineData(89.99, "degraded")]
    [InlineData(70, "degraded")]
    [InlineData(69.99, "unhealthy")]
    [InlineData(50, "unhealthy")]
    [InlineData(49.99, "critical")]
    public void Levels(double quality, string level) => Assert.Equal(level, HealthScoring.Level(quality));

    private static Candle Good(DateTime open) => DemoCandles.Make("BTCUSDT", Timeframe.Parse("15m"), open, 100m, 102m, 99m, 101m, 10m, 5);

    /// <summary>A way to break a good candle, and the one rule it then breaks.</summary>
    public static readonly (string How, string Rule)[] BrokenCases =
    [
        ("high_below_close", IntegrityRules.OhlcInconsistent),
        ("low_above_open", IntegrityRules.OhlcInconsistent),
        ("zero_low", IntegrityRules.NonPositivePrice),
        ("negative_taker_volume", IntegrityRules.NegativeVolume),
        ("taker_above_volume", IntegrityRules.TakerVolumeExceedsVolume),
        ("off_grid", IntegrityRules.MisalignedTime),
        ("timestamp_not_open_time", IntegrityRules.MisalignedTime),
        ("close_time_short", IntegrityRules.CloseTimeMismatch),
    ];

    public static TheoryData<string, string> BrokenCandles => new(BrokenCases.Select(c => new TheoryDataRow<string, string>(c.How, c.Rule)));

    public static Candle Break(Candle c, string how) => how switch
    {
        "high_below_close" => c with { High = 100.5m },
        "low_above_open" => c with { Low = 100.5m },
        "zero_low" => c with { Low = 0m },
        "negative_taker_volume" => c with { TakerBuyQuoteAssetVolume = -1m },
        "taker_above_volume" => c with { TakerBuyBaseAssetVolume = c.Volume + 0.00000001m },
        "off_grid" => c with { OpenTime = c.OpenTime.AddMinutes(7), Timestamp = c.Timestamp.AddMinutes(7), CloseTime = c.CloseTime.AddMinutes(7) },
        "timestamp_not_open_time" => c with { Timestamp = c.Timestamp.AddMinutes(15) },
        "close_time_short" => c with { CloseTime = c.CloseTime.AddSeconds(-2) },
        _ => throw new ArgumentOutOfRangeException(nameof(how)),
    };

    [Theory]
    [MemberData(nameof(BrokenCandles))]
    public void Each_integrity_rule_is_detected_alone(string how, string rule)
    {
        var interval = M15;
        Assert.Empty(IntegrityRules.Broken(Good(Day), interval));
        Assert.Equal([rule], IntegrityRules.Broken(Break(Good(Day), how), interval).ToArray());
    }

    [Fact]
    public void Close_time_rounded_up_by_mysql_or_truncated_by_mariadb_is_accepted()
    {
        var candle = Good(Day);
        Assert.Empty(IntegrityRules.Broken(candle with { CloseTime = Day.AddMinutes(15) }, M15));
        Assert.Empty(IntegrityRules.Broken(candle with { CloseTime = Day.AddMinutes(15).AddSeconds(-1) }, M15));
    }
}
