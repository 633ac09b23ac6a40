using DataManager.Candles;
using DataManager.Configuration;

namespace DataManager.Auditing;

/// <summary>For one duplicated open time: the row kept and the rows to delete.</summary>
public sealed record DuplicateRemoval(DateTime OpenTime, Candle Keep, IReadOnlyList<Candle> Remove);

/// <summary>Which rows of a duplicated open time survive: never none, and only ever one.</summary>
public static class DuplicateResolution
{
    /// <summary>
    /// <c>keep_newest</c>: the largest extracted_at, then the largest id; <c>keep_oldest</c>: the smallest
    /// extracted_at, then the smallest id; <c>manual</c>: nothing is removed.
    /// </summary>
    public static IReadOnlyList<DuplicateRemoval> Plan(IEnumerable<Candle> rows, DuplicateResolutionStrategy strategy)
    {
        if (strategy == DuplicateResolutionStrategy.Manual)
        {
            return [];
        }

        return [.. rows.GroupBy(r => r.Timestamp).Where(g => g.Count() > 1).OrderBy(g => g.Key).Select(g =>
        {
            var ordered = strategy == DuplicateResolutionStrategy.KeepNewest
                ? g.OrderByDescending(r => r.ExtractedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal)
                : g.OrderBy(r => r.ExtractedAt).ThenBy(r => r.Id, StringComparer.Ordinal);
            var keep = ordered.First();
            return new DuplicateRemoval(g.Key, keep, [.. ordered.Skip(1)]);
        })];
    }
}
