namespace DataManager.Candles;

/// <summary>How many reads of series (scans, checksums) the audit, the analytics and the CLI run against the candle database at once.</summary>
public static class CandleReadParallelism
{
    /// <summary>The reads are the database's CPU: four keep a two-core server busy while one read waits on I/O, without queueing on it.</summary>
    public const int MaxConcurrentReads = 4;

    public static ParallelOptions Options(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = MaxConcurrentReads, CancellationToken = cancellationToken };
}
