using DataManager.Leadership;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>The leader lease in MongoDB, timed by the server's clock (see <see cref="MongoQueries.LeaseAcquireOrRenew"/>).</summary>
public sealed class MongoLeaseStore(MongoStoreDatabase database) : ILeaseStore
{
    private readonly IMongoCollection<LeaseRecord> _leases = database.Collection<LeaseRecord>(MongoQueries.LeasesCollection);

    public async Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, LeaseClaimant claimant, TimeSpan duration, CancellationToken cancellationToken)
    {
        try
        {
            var lease = await _leases.FindOneAndUpdateAsync(
                MongoQueries.LeaseById(name),
                MongoQueries.LeaseAcquireOrRenew(claimant, duration),
                new FindOneAndUpdateOptions<LeaseRecord> { IsUpsert = true, ReturnDocument = ReturnDocument.After },
                cancellationToken);
            return new LeaseAttempt(lease is not null && lease.Holder == claimant.Holder && lease.Incarnation == claimant.Incarnation, lease);
        }
        catch (MongoCommandException e) when (e.Code == 11000)
        {
            // Fallback only: the server retries an _id-equality upsert that hits a duplicate key itself. A
            // racer inserted first; read what it wrote.
        }
        catch (MongoWriteException e) when (e.WriteError?.Category == ServerErrorCategory.DuplicateKey)
        {
        }

        return new LeaseAttempt(false, await ReadAsync(name, cancellationToken));
    }

    public Task ReleaseAsync(string name, LeaseClaimant claimant, CancellationToken cancellationToken) =>
        _leases.UpdateOneAsync(MongoQueries.LeaseHeldBy(name, claimant), MongoQueries.LeaseRelease(), cancellationToken: cancellationToken);

    public async Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) =>
        await _leases.Find(MongoQueries.LeaseById(name)).FirstOrDefaultAsync(cancellationToken);
}
