namespace DataManager.Candles;

/// <summary>A read of a candle table; <see cref="TableMissing"/> when the table does not exist (a finding, not a crash).</summary>
public readonly record struct CandleResult<T>(T Value, bool TableMissing);

/// <summary>Counts and bounds of a series in a window, from the index alone.</summary>
public sealed record SeriesSummary(long Rows, long DistinctOpenTimes, DateTime? FirstOpen, DateTime? LastOpen, DateTime? LastExtractedAt)
{
    public static SeriesSummary Empty { get; } = new(0, 0, null, null, null);
}

/// <summary>
/// What changes when a series changes: row count, newest open time, newest extracted_at, and a checksum of the
/// columns the audit judges in every row (an UPDATE in place, or a row deleted and another inserted, keeps the
/// first three).
/// </summary>
public sealed record SeriesSignature(long Rows, DateTime? NewestOpen, DateTime? NewestExtractedAt, decimal ContentChecksum);

/// <summary>
/// The columns analytics computes with of a series' rows: open time and OHLCV as doubles (analytics may compute in
/// double), one entry per row, oldest first.
/// </summary>
public sealed record OhlcvRows(DateTime[] OpenTimes, double[] Open, double[] High, double[] Low, double[] Close, double[] Volume)
{
    public static OhlcvRows Empty { get; } = new([], [], [], [], [], []);

    public int Count => OpenTimes.Length;
}

/// <summary>Read access to the extractor's <c>klines_{suffix}</c> tables. Times are UTC.</summary>
public interface ICandleSource
{
    string Describe();

    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>Counts, first/last open time and newest extracted_at of the rows with <c>from ≤ timestamp &lt; to</c>.</summary>
    Task<CandleResult<SeriesSummary>> SummarizeAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="count"/> candles opened before <paramref name="before"/>, oldest first.</summary>
    Task<CandleResult<IReadOnlyList<Candle>>> ReadLatestAsync(SeriesKey series, int count, DateTime before, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="ReadLatestAsync"/> for many symbols of one timeframe in one query per chunk of symbols, only the
    /// columns analytics reads (a symbol without rows gets <see cref="OhlcvRows.Empty"/>).
    /// </summary>
    Task<CandleResult<IReadOnlyDictionary<string, OhlcvRows>>> ReadLatestOhlcvAsync(Timeframe timeframe, IReadOnlyList<string> symbols, int count, DateTime before, CancellationToken cancellationToken);

    /// <summary>Row count, newest open time, newest extracted_at and a content checksum of <c>[from, to)</c>: whether a re-audit is needed.</summary>
    Task<CandleResult<SeriesSignature>> SignatureAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="SignatureAsync"/> for many symbols of one timeframe over one window, in one query per chunk of
    /// symbols (a symbol without rows gets the empty signature): a steady cycle over thousands of series costs a
    /// few round trips, not one per series.
    /// </summary>
    Task<CandleResult<IReadOnlyDictionary<string, SeriesSignature>>> SignaturesAsync(Timeframe timeframe, IReadOnlyList<string> symbols, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>
    /// Streams every row's open time of <c>[from, to)</c> in ascending order from the <c>(symbol, timestamp)</c>
    /// index alone (no row is fetched), with whether the row's id lies outside the conventional id range that
    /// <see cref="IntegritySuspectsAsync"/> reads; returns the row count.
    /// </summary>
    Task<CandleResult<long>> ScanOpenTimesAsync(SeriesKey series, DateTime from, DateTime to, Action<DateTime, bool> onRow, CancellationToken cancellationToken);

    /// <summary>
    /// The rows of <c>[from, to)</c> that may break an integrity rule (a SQL prefilter; re-check with
    /// <c>IntegrityRules</c>). Where the engine reads by primary key, rows with unconventional ids and
    /// off-grid timestamps are left to the caller, who found them in the scan.
    /// </summary>
    Task<CandleResult<IReadOnlyList<Candle>>> IntegritySuspectsAsync(SeriesKey series, DateTime from, DateTime to, CancellationToken cancellationToken);

    /// <summary>Streams (open time, close, volume) of the newest <paramref name="newest"/> rows of <c>[from, to)</c>, newest first, for the anomaly check.</summary>
    Task<CandleResult<long>> ScanPricesAsync(SeriesKey series, DateTime from, DateTime to, int newest, Action<DateTime, decimal, decimal> onRow, CancellationToken cancellationToken);

    /// <summary>True when <see cref="IntegritySuspectsAsync"/> covers only rows with conventional ids and on-grid timestamps.</summary>
    bool IntegrityNeedsScanFindings { get; }

    /// <summary>Every row at the given open times (duplicate resolution).</summary>
    Task<CandleResult<IReadOnlyList<Candle>>> RowsAtAsync(SeriesKey series, IReadOnlyList<DateTime> openTimes, CancellationToken cancellationToken);
}

/// <summary>Write access (backfill, demo seeding): rows are only ever added, never changed.</summary>
public interface ICandleWriter
{
    /// <summary>Inserts rows whose id is new; returns how many were inserted (seeding: it may add a second row at an open time).</summary>
    Task<int> InsertIgnoreAsync(Timeframe timeframe, IReadOnlyList<Candle> candles, CancellationToken cancellationToken);

    /// <summary>
    /// Inserts, in one transaction, the candles of <paramref name="series"/> whose <c>(symbol, timestamp)</c> has no
    /// row yet, whatever that row's id; returns how many were inserted. Existing rows are never touched.
    /// </summary>
    Task<int> InsertMissingAsync(SeriesKey series, IReadOnlyList<Candle> candles, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes rows by id in one transaction, then re-checks that exactly one row remains at each open time
    /// and that it is the one to keep; otherwise rolls everything back and throws <see cref="DuplicateRemovalAbortedException"/>.
    /// </summary>
    Task<int> RemoveDuplicatesAsync(SeriesKey series, IReadOnlyList<(DateTime OpenTime, string KeepId, IReadOnlyList<string> RemoveIds)> removals, CancellationToken cancellationToken);
}

/// <summary>The re-check after deleting duplicates failed (a concurrent write, an unexpected row): nothing was deleted.</summary>
public sealed class DuplicateRemovalAbortedException(string message) : Exception(message);
