namespace DataManager.Candles;

/// <summary>A read of a candle table; <see cref="TableMissing"/> when the table does not exist (a finding, not a crash).</summary>
public readonly record struct CandleResult<T>(T Value, bool TableMissing);

/// <summary>Counts and bounds of a series in a window, from the index alone.</summary>
public sealed record SeriesSummary(long Rows, long DistinctOpenTimes, DateTime? FirstOpen, DateTime? LastOpen, DateTime? LastExtractedAt)
{
    public static SeriesSummary Empty { get; } = new(0, 0, null, null, null);
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
}

/// <summary>Write access (backfill, demo seeding): rows are only ever added with INSERT IGNORE.</summary>
public interface ICandleWriter
{
    /// <summary>Inserts rows whose id is new; returns how many were inserted.</summary>
    Task<int> InsertIgnoreAsync(Timeframe timeframe, IReadOnlyList<Candle> candles, CancellationToken cancellationToken);
}
