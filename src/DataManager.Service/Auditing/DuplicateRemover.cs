using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using Microsoft.Extensions.Options;

namespace DataManager.Auditing;

/// <summary>
/// Resolves the duplicates an audit found, when ENABLE_DUPLICATE_REMOVAL is on: the full rows to delete are
/// saved in the store first, then deleted by id in one transaction that re-checks what remains.
/// </summary>
public sealed partial class DuplicateRemover(
    ICandleSource candles,
    ICandleWriter writer,
    ICandleArchiveStore archive,
    IOptions<AuditOptions> options,
    AuditMetrics metrics,
    TimeProvider time,
    ILogger<DuplicateRemover> logger)
{
    public bool Enabled => options.Value.DuplicateRemoval && options.Value.Strategy != DuplicateResolutionStrategy.Manual;

    /// <summary>Returns the number of rows deleted.</summary>
    public async Task<int> RemoveAsync(SeriesKey series, IReadOnlyList<DuplicateFinding> duplicates, long term, CancellationToken cancellationToken)
    {
        if (!Enabled || duplicates.Count == 0)
        {
            return 0;
        }

        var rows = await candles.RowsAtAsync(series, [.. duplicates.Select(d => d.OpenTime.UtcDateTime)], cancellationToken);
        var plan = DuplicateResolution.Plan(rows.Value, options.Value.Strategy);
        if (plan.Count == 0)
        {
            return 0;
        }

        var strategy = AuditOptions.Strategies.Single(s => s.Value == options.Value.Strategy).Key;
        var removedAt = time.GetUtcNow();
        // Archived under an id of the row's content: an attempt rolled back and tried again archives nothing twice.
        await archive.ArchiveAsync([.. plan.SelectMany(p => p.Remove).Select(row => new ArchivedCandle
        {
            Id = ArchiveId(series.Timeframe, row),
            Timeframe = series.Timeframe.Name,
            RemovedAt = removedAt,
            Term = term,
            Reason = strategy,
            Row = row,
        })], cancellationToken);

        var deleted = await writer.RemoveDuplicatesAsync(series, [.. plan.Select(p => (p.OpenTime, p.Keep.Id, (IReadOnlyList<string>)[.. p.Remove.Select(r => r.Id)]))], cancellationToken);
        metrics.DuplicatesRemoved.WithLabels(series.Symbol, series.Timeframe.Name).Inc(deleted);
        LogRemoved(logger, deleted, plan.Count, series.ToString(), strategy, FirstIds(plan.SelectMany(p => p.Remove).Select(r => r.Id)));
        return deleted;
    }

    /// <summary>The same removed row (id and every column) always gets the same archive id.</summary>
    public static string ArchiveId(Timeframe timeframe, Candle row) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(timeframe.Name + "\n" + StoreJson.Serialize(row))))[..32];

    /// <summary>A log line names a few ids, never thousands.</summary>
    public static string FirstIds(IEnumerable<string> ids, int count = 5)
    {
        var all = ids.ToList();
        return all.Count <= count ? string.Join(", ", all) : $"{string.Join(", ", all.Take(count))} and {all.Count - count} more";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Rows} duplicate rows at {OpenTimes} open times of {Series} ({Strategy}; first: {Ids}); the rows are archived in the store")]
    private static partial void LogRemoved(ILogger logger, int rows, int openTimes, string series, string strategy, string ids);
}
