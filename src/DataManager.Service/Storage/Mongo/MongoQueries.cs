using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Leadership;
using MongoDB.Bson;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>
/// Every filter and update the Mongo store sends, built in one place so tests can render them to BSON and
/// check their shape without a server.
/// </summary>
public static class MongoQueries
{
    // "Held by me and not expired": a renewal, which keeps the term.
    private static BsonDocument HeldBy(string holder) => new("$and", new BsonArray
    {
        new BsonDocument("$eq", new BsonArray { "$holder", holder }),
        new BsonDocument("$gt", new BsonArray { "$expiresAt", "$$NOW" }),
    });

    /// <summary>Matches the lease when it is held by <paramref name="holder"/> and unexpired, or expired, by the server's clock.</summary>
    public static FilterDefinition<LeaseRecord> LeaseAcquirable(string name, string holder) =>
        new BsonDocument
        {
            { "_id", name },
            {
                "$expr", new BsonDocument("$or", new BsonArray
                {
                    HeldBy(holder),
                    new BsonDocument("$lte", new BsonArray { "$expiresAt", "$$NOW" }),
                })
            },
        };

    /// <summary>
    /// One pipeline stage, evaluated against the stored document: keep term and acquiredAt on a renewal,
    /// else term + 1 and acquiredAt = now. On the first upsert there is no document, so term becomes 1.
    /// </summary>
    public static UpdateDefinition<LeaseRecord> LeaseAcquireOrRenew(string holder, TimeSpan duration) =>
        new PipelineUpdateDefinition<LeaseRecord>(new[]
        {
            new BsonDocument("$set", new BsonDocument
            {
                { "term", new BsonDocument("$cond", new BsonArray { HeldBy(holder), "$term", new BsonDocument("$add", new BsonArray { new BsonDocument("$ifNull", new BsonArray { "$term", 0L }), 1L }) }) },
                { "acquiredAt", new BsonDocument("$cond", new BsonArray { HeldBy(holder), "$acquiredAt", "$$NOW" }) },
                { "holder", holder },
                { "renewedAt", "$$NOW" },
                { "expiresAt", new BsonDocument("$add", new BsonArray { "$$NOW", (long)duration.TotalMilliseconds }) },
            }),
        });

    public static FilterDefinition<LeaseRecord> LeaseHeldBy(string name, string holder) =>
        new BsonDocument
        {
            { "_id", name },
            { "holder", holder },
            { "$expr", new BsonDocument("$gt", new BsonArray { "$expiresAt", "$$NOW" }) },
        };

    /// <summary>Expire now, keeping the holder on record so the next acquisition raises the term.</summary>
    public static UpdateDefinition<LeaseRecord> LeaseRelease() =>
        new PipelineUpdateDefinition<LeaseRecord>(new[] { new BsonDocument("$set", new BsonDocument("expiresAt", "$$NOW")) });

    public static FilterDefinition<AuditRecord> Audits(AuditQuery query)
    {
        var f = Builders<AuditRecord>.Filter;
        var filters = new List<FilterDefinition<AuditRecord>>();
        if (query.Symbol is not null)
        {
            filters.Add(f.Eq(a => a.Symbol, query.Symbol));
        }

        if (query.Timeframe is not null)
        {
            filters.Add(f.Eq(a => a.Timeframe, query.Timeframe));
        }

        if (query.From is not null)
        {
            filters.Add(f.Gte(a => a.AuditedAt, query.From.Value));
        }

        if (query.To is not null)
        {
            filters.Add(f.Lt(a => a.AuditedAt, query.To.Value));
        }

        return filters.Count == 0 ? f.Empty : f.And(filters);
    }

    public static FilterDefinition<HealthScoreRecord> HealthHistory(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to)
    {
        var f = Builders<HealthScoreRecord>.Filter;
        var filter = f.Eq(h => h.Symbol, symbol) & f.Eq(h => h.Timeframe, timeframe);
        if (from is not null)
        {
            filter &= f.Gte(h => h.At, from.Value);
        }

        if (to is not null)
        {
            filter &= f.Lt(h => h.At, to.Value);
        }

        return filter;
    }

    public static FilterDefinition<AnalyticsResult> AnalyticsHistory(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to)
    {
        var f = Builders<AnalyticsResult>.Filter;
        var filter = f.Eq(a => a.Symbol, symbol) & f.Eq(a => a.Timeframe, timeframe) & f.Eq(a => a.Metric, metric);
        if (from is not null)
        {
            filter &= f.Gte(a => a.ComputedAt, from.Value);
        }

        if (to is not null)
        {
            filter &= f.Lt(a => a.ComputedAt, to.Value);
        }

        return filter;
    }

    /// <summary>Optimistic concurrency on a job: only the version that was read may be replaced.</summary>
    public static FilterDefinition<BackfillJob> JobAtVersion(string id, long version) =>
        Builders<BackfillJob>.Filter.Eq(j => j.Id, id) & Builders<BackfillJob>.Filter.Eq(j => j.Version, version);

    public static FilterDefinition<BackfillJob> JobsInState(BackfillJobState? state) =>
        state is null ? Builders<BackfillJob>.Filter.Empty : Builders<BackfillJob>.Filter.Eq(j => j.State, state.Value);

    /// <summary>Jobs of a state (or all) that come after <paramref name="after"/> newest first: created earlier, or at the same time with a smaller id.</summary>
    public static FilterDefinition<BackfillJob> JobsInStateAfter(BackfillJobState? state, BackfillJobPosition? after)
    {
        var f = Builders<BackfillJob>.Filter;
        return after is null
            ? JobsInState(state)
            : JobsInState(state) & (f.Lt(j => j.CreatedAt, after.CreatedAt) | (f.Eq(j => j.CreatedAt, after.CreatedAt) & f.Lt(j => j.Id, after.Id)));
    }

    /// <summary>One document per state present, <c>{ _id: "Running", count: 3 }</c>; the field is the mapped <c>state</c>.</summary>
    public static PipelineDefinition<BackfillJob, BsonDocument> JobCountsByState() =>
        new BsonDocument[] { new("$group", new BsonDocument { { "_id", "$state" }, { "count", new BsonDocument("$sum", 1) } }) };

    /// <summary>Jobs that have ended (completed, failed, cancelled) and were created before the cutoff: served by the (state, createdAt) index.</summary>
    public static FilterDefinition<BackfillJob> FinishedJobsCreatedBefore(DateTimeOffset createdBefore) =>
        Builders<BackfillJob>.Filter.In(j => j.State, BackfillJobStates.Ended)
        & Builders<BackfillJob>.Filter.Lt(j => j.CreatedAt, createdBefore);
}
