using DataManager.Candles;

namespace DataManager.Auditing;

/// <summary>Gaps the exchange itself has no candles for.</summary>
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

/// <summary>Gap thresholds for one timeframe: <c>tol = min(GAP_TOLERANCE_SECONDS, I/2)</c>, and the smallest span reported.</summary>
public readonly record struct GapRules(TimeSpan Interval, TimeSpan Tolerance, TimeSpan MinGapSize)
{
    public static GapRules For(TimeSpan interval, TimeSpan gapTolerance, TimeSpan minGapSize) =>
        new(interval, gapTolerance < interval / 2 ? gapTolerance : interval / 2, minGapSize);
}

/// <summary>
/// One pass over a series' rows in open-time order, one row at a time, so a window of millions of candles is
/// never held in memory: gaps, duplicates (runs of equal open times, whatever the ids), the distinct aligned
/// open times on the grid (completeness), the newest (freshness), and the open times whose rows need an
/// exact integrity check (off the grid, or an id outside the conventional range).
/// </summary>
public sealed class GapScanner(AuditGrid grid, GapRules rules)
{
    private readonly List<GapFinding> _gaps = [];
    private readonly List<DuplicateFinding> _duplicates = [];
    private readonly List<DateTime> _suspectTimes = [];
    private DateTime? _previous;
    private int _run;

    public int DistinctOnGrid { get; private set; }

    /// <summary>Distinct open times read, on the grid or not (rows − this = duplicate surplus).</summary>
    public int Distinct { get; private set; }

    public DateTime? Newest => _previous;

    public IReadOnlyList<DuplicateFinding> Duplicates => _duplicates;

    /// <summary>Open times (distinct, ascending) whose rows need an exact integrity check.</summary>
    public IReadOnlyList<DateTime> SuspectTimes => _suspectTimes;

    /// <summary>Feeds the next row's open time (ascending); <paramref name="unconventionalId"/> marks an id outside the conventional range.</summary>
    public void Add(DateTime openTime, bool unconventionalId = false)
    {
        if (_previous == openTime)
        {
            _run++;
            if (unconventionalId && (_suspectTimes.Count == 0 || _suspectTimes[^1] != openTime))
            {
                _suspectTimes.Add(openTime);
            }

            return;
        }

        EndRun();
        _run = 1;
        Distinct++;
        var aligned = grid.IsAligned(openTime);
        if (aligned && openTime >= grid.First && openTime <= grid.Last)
        {
            DistinctOnGrid++;
        }

        if (!aligned || unconventionalId)
        {
            _suspectTimes.Add(openTime);
        }

        // The grid's first point behaves like the successor of a virtual candle one interval before it.
        Between(_previous ?? grid.First - grid.Interval, openTime);
        _previous = openTime;
    }

    /// <summary>Closes the scan: a missing tail (or a window with no candle) is a gap too.</summary>
    public IReadOnlyList<GapFinding> Finish()
    {
        EndRun();
        _run = 0;
        if (grid.Size > 0)
        {
            Between(_previous ?? grid.First - grid.Interval, grid.Last + grid.Interval);
        }

        return _gaps;
    }

    private void EndRun()
    {
        if (_run > 1 && _previous is { } time)
        {
            _duplicates.Add(new DuplicateFinding(Utc(time), _run));
        }
    }

    private void Between(DateTime earlier, DateTime later)
    {
        var step = later - earlier;
        if (step <= rules.Interval + rules.Tolerance)
        {
            return;
        }

        var span = step - rules.Interval;
        if (span < rules.MinGapSize)
        {
            return;
        }

        var from = earlier + rules.Interval;
        var to = later - rules.Interval;
        var missing = (int)Math.Max(1, Math.Round(span / rules.Interval));
        _gaps.Add(new GapFinding(Utc(from), Utc(to < from ? from : to), missing));
    }

    private static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));
}

/// <summary>The fixed integrity rule names, and which of them a candle breaks.</summary>
public static class IntegrityRules
{
    public const string OhlcInconsistent = "ohlc_inconsistent";
    public const string NonPositivePrice = "non_positive_price";
    public const string NegativeVolume = "negative_volume";
    public const string TakerVolumeExceedsVolume = "taker_volume_exceeds_volume";
    public const string MisalignedTime = "misaligned_time";
    public const string CloseTimeMismatch = "close_time_mismatch";

    public static IReadOnlyList<string> All { get; } =
        [OhlcInconsistent, NonPositivePrice, NegativeVolume, TakerVolumeExceedsVolume, MisalignedTime, CloseTimeMismatch];

    /// <summary>Every rule the row breaks, in the fixed order of <see cref="All"/>.</summary>
    public static IEnumerable<string> Broken(Candles.Candle c, TimeSpan interval)
    {
        if (c.High < Math.Max(c.Open, c.Close) || c.Low > Math.Min(c.Open, c.Close) || c.Low > c.High)
        {
            yield return OhlcInconsistent;
        }

        if (c.Open <= 0 || c.High <= 0 || c.Low <= 0 || c.Close <= 0)
        {
            yield return NonPositivePrice;
        }

        if (c.Volume < 0 || c.QuoteAssetVolume < 0 || c.TakerBuyBaseAssetVolume < 0 || c.TakerBuyQuoteAssetVolume < 0)
        {
            yield return NegativeVolume;
        }

        if (c.TakerBuyBaseAssetVolume > c.Volume || c.TakerBuyQuoteAssetVolume > c.QuoteAssetVolume)
        {
            yield return TakerVolumeExceedsVolume;
        }

        if (c.OpenTime.Ticks % interval.Ticks != 0 || c.Timestamp != c.OpenTime)
        {
            yield return MisalignedTime;
        }

        // DATETIME keeps no milliseconds (MySQL rounds them, MariaDB truncates): within 1 s of open + I − 1 ms.
        var expectedClose = c.OpenTime + interval - TimeSpan.FromMilliseconds(1);
        if ((c.CloseTime - expectedClose).Duration() > TimeSpan.FromSeconds(1))
        {
            yield return CloseTimeMismatch;
        }
    }
}

/// <summary>The health formulas (completeness, consistency, freshness, quality 0.4/0.4/0.2), with timeframe-aware freshness.</summary>
public static class HealthScoring
{
    public const double FreshnessScaleSeconds = 300;

    public static double Completeness(int distinctOnGrid, int gridSize) =>
        gridSize == 0 ? 100 : Math.Min(100, distinctOnGrid * 100.0 / gridSize);

    public static double Consistency(int gaps, int duplicateSurplus) =>
        Math.Max(0, 100 - Math.Min(gaps * 10, 50) - Math.Min(duplicateSurplus * 5, 30));

    /// <summary>
    /// <c>age = max(0, asOf − (newestOpen + 2·I))</c>: the time since the candle after the newest one was due,
    /// judged as of <c>min(now, to)</c>. No candle in the window scores 0.
    /// </summary>
    public static double Freshness(DateTime? newestOpen, TimeSpan interval, DateTime asOf)
    {
        if (newestOpen is null)
        {
            return 0;
        }

        var age = Math.Max(0, (asOf - (newestOpen.Value + (2 * interval))).TotalSeconds);
        return Math.Max(0, 100 - (age / FreshnessScaleSeconds * 100));
    }

    public static double Quality(double completeness, double consistency, double freshness) =>
        (0.4 * completeness) + (0.4 * consistency) + (0.2 * freshness);

    public static string Level(double quality) => quality switch
    {
        >= 90 => "healthy",
        >= 70 => "degraded",
        >= 50 => "unhealthy",
        _ => "critical",
    };

    public static HealthScore Score(int distinctOnGrid, int gridSize, int gaps, int duplicateSurplus, DateTime? newestOpen, TimeSpan interval, DateTime asOf)
    {
        var completeness = Completeness(distinctOnGrid, gridSize);
        var consistency = Consistency(gaps, duplicateSurplus);
        var freshness = Freshness(newestOpen, interval, asOf);
        var quality = Quality(completeness, consistency, freshness);
        var rounded = Round(quality);
        return new HealthScore(Round(completeness), Round(freshness), Round(consistency), rounded, Level(rounded));
    }

    private static double Round(double value) => Math.Round(value, 2, MidpointRounding.AwayFromZero);
}
