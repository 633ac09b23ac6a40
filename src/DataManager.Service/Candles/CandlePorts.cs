namespace DataManager.Candles;

/// <summary>A read of a candle table; <see cref="TableMissing"/> when the table does not exist (a finding, not a crash).</summary>
public readonly record struct CandleResult<T>(T Value, bool TableMissing);

/// <summary>Counts and bounds of a series in a window, from the index alone.</summary>
public sealed record SeriesSummary(long Rows, long DistinctOpenTimes, DateTime? FirstOpen, DateTime? LastOpen, DateTime? LastExtractedAt)
{
    public static SeriesSummary Empty { get; } = new(0, 0, null, null, null);
}

/// <summary>What changes when a series changes: row count, newest open time, newest extracted_at.</summary>
public sealed record SeriesSignature(long Rows, DateTime? NewestOpen, DateTime? NewestExtractedAt)
{
    public override string ToString() =>
        $"{Rows}|{NewestOpen?.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}|{NewestExtractedAt?.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}";
}

/// <summary>An open time shared by several rows.</summary>
public readonly record struct DuplicateOpenTime(DateTime OpenTime, int Rows);

/// <summary>Read access to the extractor's <c>klines_{suffix}</c> tables. Times are UTC.</summary>
public interface ICandleSource
{
    string Describe();

    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>Counts, first/last open time and newest extracted_at of the rows with <c>from ≤ timestamp &lt; to</c>.</summary>
    Task<CandleResult<SeriesSummary>> SummarizeAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="count"/> candles opened before <paramref name="before"/>, oldest first.</summary>
    Task<CandleResult<IReadOnlyList<Candle>>> ReadLatestAsync(SeriesKey series, int count, DateTime before, CancellationToken cancellationToken);

    /// <summary>Row count, newest open time and newest extracted_at in <c>[from, to)</c>: whether a re-audit is needed.</summary>
    Task<CandleResult<SeriesSignature>> SignatureAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>
    /// Streams the open times of <c>[from, to)</c> in ascending order from the index (no row is fetched),
    /// calling <paramref name="onOpenTime"/> for each row; returns the row count.
    /// </summary>
    Task<CandleResult<long>> ScanOpenTimesAsync(SeriesKey series, DateTime from, DateTime to, Action<DateTime> onOpenTime, CancellationToken cancellationToken);

    /// <summary>Open times held by more than one row, by <c>(symbol, timestamp)</c> whatever the ids.</summary>
    Task<CandleResult<IReadOnlyList<DuplicateOpenTime>>> DuplicatesAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>The rows of <c>[from, to)</c> that may break an integrity rule (SQL prefilter; re-check with <c>IntegrityRules</c>).</summary>
    Task<CandleResult<IReadOnlyList<Candle>>> IntegritySuspectsAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>Every row at the given open times (duplicate resolution).</summary>
    Task<CandleResult<IReadOnlyList<Candle>>> RowsAtAsync(SeriesKey series, IReadOnlyList<DateTime> openTimes, CancellationToken cancellationToken);
}

/// <summary>Write access (backfill, demo seeding): rows are only ever added with INSERT IGNORE.</summary>
public interface ICandleWriter
{
    /// <summary>Inserts rows whose id is new; returns how many were inserted.</summary>
    Task<int> InsertIgnoreAsync(Timeframe timeframe, IReadOnlyList<Candle> candles, CancellationToken cancellationToken);
}
