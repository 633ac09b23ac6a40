using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>
/// Confirmed-empty ranges from the completed backfill jobs in MongoDB: one find served by the
/// (symbol, timeframe, state) index (<see cref="MongoQueries.CompletedJobsOf"/>), only the ranges projected.
/// </summary>
public sealed class MongoConfirmedEmptyRanges(MongoStoreDatabase database) : IConfirmedEmptyRanges
{
    private readonly IMongoCollection<BackfillJob> _jobs = database.Collection<BackfillJob>(MongoQueries.JobsCollection);

    public async Task<IReadOnlyList<EmptyRange>> OverlappingAsync(SeriesKey series, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var found = await _jobs.Find(MongoQueries.CompletedJobsOf(series)).Project(j => j.ConfirmedEmpty).ToListAsync(cancellationToken);
        return [.. found.SelectMany(ranges => ranges).Where(r => r.From < to && from < r.To).OrderBy(r => r.From).ThenBy(r => r.To)];
    }
}
