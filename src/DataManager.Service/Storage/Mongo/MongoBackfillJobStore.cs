using DataManager.Backfill;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>Backfill jobs in MongoDB; a job's version guards every update.</summary>
public sealed class MongoBackfillJobStore(MongoStoreDatabase database) : IBackfillJobStore
{
    private readonly IMongoCollection<BackfillJob> _jobs = database.Collection<BackfillJob>(MongoQueries.JobsCollection);

    public Task CreateAsync(BackfillJob job, CancellationToken cancellationToken) =>
        _jobs.InsertOneAsync(job, cancellationToken: cancellationToken);

    public async Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) =>
        await _jobs.Find(MongoQueries.JobById(id)).FirstOrDefaultAsync(cancellationToken);

    public async Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) =>
        await _jobs.Find(MongoQueries.JobsInState(state)).Sort(MongoQueries.JobsOldestFirst).Limit(limit).ToListAsync(cancellationToken);

    public async Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
        await _jobs.Find(MongoQueries.JobsInStateAfter(state, after)).Sort(MongoQueries.JobsNewestFirst).Limit(limit).ToListAsync(cancellationToken);

    public async Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) =>
        (await _jobs.DeleteManyAsync(MongoQueries.FinishedJobsCreatedBefore(createdBefore), cancellationToken)).DeletedCount;

    public async Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken)
    {
        var groups = await (await _jobs.AggregateAsync(MongoQueries.JobCountsByState(), cancellationToken: cancellationToken)).ToListAsync(cancellationToken);
        return groups.ToDictionary(g => Enum.Parse<BackfillJobState>(g["_id"].AsString), g => g["count"].ToInt64());
    }

    public async Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken)
    {
        var result = await _jobs.ReplaceOneAsync(MongoQueries.JobAtVersion(job.Id, expectedVersion), job with { Version = expectedVersion + 1 }, cancellationToken: cancellationToken);
        return result.ModifiedCount == 1;
    }
}
