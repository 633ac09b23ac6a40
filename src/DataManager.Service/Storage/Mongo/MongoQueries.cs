using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using MongoDB.Bson;
using MongoDB.Driver;

namespace DataManager.Storage.Mongo;

/// <summary>
/// Every filter, sort, update, pipeline and index the Mongo store sends, built in one place so tests can
/// render them to BSON with the real driver and check them against the server's documented rules without a
/// server (MongoQueryShapeTests). Each query names the index that serves it.
/// </summary>
public static class MongoQueries
{
    public const string AuditsCollection = "audits";
    public const string CyclesCollection = "audit_cycles";
    public const string HealthScoresCollection = "health_scores";
    public const string JobsCollection = "backfill_jobs";
    public const string AnalyticsCollection = "analytics_results";
    public const string ArchiveCollection = "candle_archive";
    public const string LeasesCollection = "leader_election";
    public const string IncidentsCollection = "incidents";
    public const string IncidentCursorCollection = "incident_cursor";

    /// <summary>
    /// The secondary indexes per collection (every collection also has its unique <c>_id</c> index). Newest-first
    /// lists break time ties by <c>_id</c> ascending, so the indexes end with <c>_id</c> and the sort is read from
    /// the index, never done in memory. leader_election has deliberately no TTL index: the lease is never deleted.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<BsonDocument>> Indexes { get; } = new Dictionary<string, IReadOnlyList<BsonDocument>>
    {
        [AuditsCollection] =
        [
            new() { { "symbol", 1 }, { "timeframe", 1 }, { "auditedAt", -1 }, { "_id", 1 } },
            new() { { "auditedAt", -1 }, { "_id", 1 } },
        ],
        [CyclesCollection] = [new() { { "startedAt", -1 }, { "_id", -1 } }],
        [HealthScoresCollection] =
        [
            new() { { "symbol", 1 }, { "timeframe", 1 }, { "at", -1 }, { "_id", 1 } },
            new() { { "at", 1 } },
        ],
        [JobsCollection] =
        [
            new() { { "state", 1 }, { "createdAt", 1 }, { "_id", 1 } },
            new() { { "createdAt", 1 }, { "_id", 1 } },
            new() { { "symbol", 1 }, { "timeframe", 1 }, { "state", 1 } },
        ],
        [AnalyticsCollection] =
        [
            new() { { "symbol", 1 }, { "timeframe", 1 }, { "metric", 1 }, { "computedAt", -1 }, { "_id", 1 } },
            new() { { "computedAt", 1 } },
        ],
        [ArchiveCollection] = [new() { { "row.symbol", 1 }, { "timeframe", 1 }, { "removedAt", 1 }, { "_id", 1 } }],
        [LeasesCollection] = [],
        [IncidentsCollection] =
        [
            new() { { "openedAt", -1 } },
            new() { { "state", 1 }, { "openedAt", -1 } },
        ],
    };

    /// <summary>Indexes earlier versions created, now covered by the ones above (their key patterns lacked the <c>_id</c> tie-break); dropped at start.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> SupersededIndexes { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        [AuditsCollection] = ["symbol_1_timeframe_1_auditedAt_-1", "auditedAt_-1"],
        [CyclesCollection] = ["startedAt_-1"],
        [HealthScoresCollection] = ["symbol_1_timeframe_1_at_-1"],
        [JobsCollection] = ["state_1_createdAt_1"],
        [AnalyticsCollection] = ["symbol_1_timeframe_1_metric_1_computedAt_-1"],
        [ArchiveCollection] = ["row.symbol_1_timeframe_1_removedAt_1"],
    };

    // Configured strings (pod name, incarnation) enter expressions only through $literal: a value starting
    // with "$" would otherwise be read as a field path.
    private static BsonDocument Literal(string value) => new("$literal", value);

    private static BsonDocument Cond(BsonValue condition, BsonValue then, BsonValue otherwise) =>
        new("$cond", new BsonArray { condition, then, otherwise });

    // "Held by this holder and incarnation and not expired": a renewal, which keeps the term.
    private static BsonDocument HeldBy(LeaseClaimant claimant) => new("$and", new BsonArray
    {
        new BsonDocument("$eq", new BsonArray { "$holder", Literal(claimant.Holder) }),
        new BsonDocument("$eq", new BsonArray { "$incarnation", Literal(claimant.Incarnation) }),
        new BsonDocument("$gt", new BsonArray { "$expiresAt", "$$NOW" }),
    });

    // Renewal, or expired by the server's clock. On the upsert's new document expiresAt is missing, and
    // $ifNull turns it into null, which sorts before every date: a new lease is acquirable.
    private static BsonDocument Acquirable(LeaseClaimant claimant) => new("$or", new BsonArray
    {
        HeldBy(claimant),
        new BsonDocument("$lte", new BsonArray { new BsonDocument("$ifNull", new BsonArray { "$expiresAt", BsonNull.Value }), "$$NOW" }),
    });

    /// <summary>
    /// The lease write's filter: <c>_id</c> equality only. The server refuses <c>$expr</c> in the filter of an
    /// upsert, and with a pure equality on the unique <c>_id</c> it retries a racing upsert's duplicate-key
    /// insert as an update, which then sees the winner. The condition lives in <see cref="LeaseAcquireOrRenew"/>.
    /// </summary>
    public static FilterDefinition<LeaseRecord> LeaseById(string name) => new BsonDocument("_id", name);

    /// <summary>
    /// One <c>$set</c> stage evaluated against the stored document on the server's clock (<c>$$NOW</c>). Every
    /// field is conditional: on a renewal term and acquiredAt are kept; on an acquisition (expired, released,
    /// or new) term + 1 and acquiredAt = now; when the lease is held by someone else, every field keeps its
    /// value. The document returned after the update is held by the claimant exactly when this write took it.
    /// </summary>
    public static UpdateDefinition<LeaseRecord> LeaseAcquireOrRenew(LeaseClaimant claimant, TimeSpan duration)
    {
        var renewal = HeldBy(claimant);
        var acquirable = Acquirable(claimant);
        return new PipelineUpdateDefinition<LeaseRecord>(new[]
        {
            new BsonDocument("$set", new BsonDocument
            {
                { "term", Cond(renewal, "$term", Cond(acquirable, new BsonDocument("$add", new BsonArray { new BsonDocument("$ifNull", new BsonArray { "$term", 0L }), 1L }), "$term")) },
                { "acquiredAt", Cond(renewal, "$acquiredAt", Cond(acquirable, "$$NOW", "$acquiredAt")) },
                { "holder", Cond(acquirable, Literal(claimant.Holder), "$holder") },
                { "incarnation", Cond(acquirable, Literal(claimant.Incarnation), "$incarnation") },
                { "renewedAt", Cond(acquirable, "$$NOW", "$renewedAt") },
                { "expiresAt", Cond(acquirable, new BsonDocument("$add", new BsonArray { "$$NOW", (long)duration.TotalMilliseconds }), "$expiresAt") },
            }),
        });
    }

    /// <summary>The release's filter (no upsert, so <c>$expr</c> is allowed): held by this holder and incarnation, unexpired.</summary>
    public static FilterDefinition<LeaseRecord> LeaseHeldBy(string name, LeaseClaimant claimant) =>
        new BsonDocument
        {
            { "_id", name },
            { "holder", claimant.Holder },
            { "incarnation", claimant.Incarnation },
            { "$expr", new BsonDocument("$gt", new BsonArray { "$expiresAt", "$$NOW" }) },
        };

    /// <summary>Expire now, keeping the holder on record so the next acquisition raises the term.</summary>
    public static UpdateDefinition<LeaseRecord> LeaseRelease() =>
        new PipelineUpdateDefinition<LeaseRecord>(new[] { new BsonDocument("$set", new BsonDocument("expiresAt", "$$NOW")) });

    // ---- audits ---------------------------------------------------------------------------------

    /// <summary>Served by (symbol, timeframe, auditedAt, _id) with both names given, by (auditedAt, _id) with neither.</summary>
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

    /// <summary>Newest first; a tie in time is broken by id ascending (the same on SQLite).</summary>
    public static SortDefinition<AuditRecord> AuditsNewestFirst { get; } = Builders<AuditRecord>.Sort.Descending(a => a.AuditedAt).Ascending(a => a.Id);

    /// <summary>
    /// The first audit of each series in <see cref="AuditsNewestFirst"/> order. The sort leads with the group
    /// key so the (symbol, timeframe, auditedAt, _id) index provides it.
    /// </summary>
    public static PipelineDefinition<AuditRecord, AuditRecord> AuditsLatestPerSeries() => new BsonDocument[]
    {
        new("$sort", new BsonDocument { { "symbol", 1 }, { "timeframe", 1 }, { "auditedAt", -1 }, { "_id", 1 } }),
        new("$group", new BsonDocument { { "_id", new BsonDocument { { "s", "$symbol" }, { "t", "$timeframe" } } }, { "doc", new BsonDocument("$first", "$$ROOT") } }),
        new("$replaceRoot", new BsonDocument("newRoot", "$doc")),
    };

    public static FilterDefinition<AuditRecord> AuditsOlderThan(DateTimeOffset olderThan) => Builders<AuditRecord>.Filter.Lt(a => a.AuditedAt, olderThan);

    public static FilterDefinition<AuditCycleRecord> CycleById(string id) => Builders<AuditCycleRecord>.Filter.Eq(c => c.Id, id);

    public static SortDefinition<AuditCycleRecord> CyclesNewestFirst { get; } = Builders<AuditCycleRecord>.Sort.Descending(c => c.StartedAt).Descending(c => c.Id);

    public static FilterDefinition<AuditCycleRecord> CyclesOlderThan(DateTimeOffset olderThan) => Builders<AuditCycleRecord>.Filter.Lt(c => c.StartedAt, olderThan);

    // ---- health scores ------------------------------------------------------------------------

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

    public static SortDefinition<HealthScoreRecord> HealthNewestFirst { get; } = Builders<HealthScoreRecord>.Sort.Descending(h => h.At).Ascending(h => h.Id);

    public static FilterDefinition<HealthScoreRecord> HealthOlderThan(DateTimeOffset olderThan) => Builders<HealthScoreRecord>.Filter.Lt(h => h.At, olderThan);

    // ---- analytics ----------------------------------------------------------------------------

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

    public static SortDefinition<AnalyticsResult> AnalyticsNewestFirst { get; } = Builders<AnalyticsResult>.Sort.Descending(a => a.ComputedAt).Ascending(a => a.Id);

    /// <summary>The first result of each metric of a series in <see cref="AnalyticsNewestFirst"/> order, served by the series index.</summary>
    public static PipelineDefinition<AnalyticsResult, AnalyticsResult> AnalyticsLatest(string symbol, string timeframe) => new BsonDocument[]
    {
        new("$match", new BsonDocument { { "symbol", symbol }, { "timeframe", timeframe } }),
        new("$sort", new BsonDocument { { "metric", 1 }, { "computedAt", -1 }, { "_id", 1 } }),
        new("$group", new BsonDocument { { "_id", "$metric" }, { "doc", new BsonDocument("$first", "$$ROOT") } }),
        new("$replaceRoot", new BsonDocument("newRoot", "$doc")),
    };

    public static FilterDefinition<AnalyticsResult> AnalyticsOlderThan(DateTimeOffset olderThan) => Builders<AnalyticsResult>.Filter.Lt(a => a.ComputedAt, olderThan);

    // ---- candle archive -----------------------------------------------------------------------

    public static FilterDefinition<ArchivedCandle> ArchiveOf(string symbol, string timeframe) =>
        Builders<ArchivedCandle>.Filter.Eq(a => a.Row.Symbol, symbol) & Builders<ArchivedCandle>.Filter.Eq(a => a.Timeframe, timeframe);

    public static SortDefinition<ArchivedCandle> ArchiveOldestFirst { get; } = Builders<ArchivedCandle>.Sort.Ascending(a => a.RemovedAt).Ascending(a => a.Id);

    // ---- backfill jobs ------------------------------------------------------------------------

    public static FilterDefinition<BackfillJob> JobById(string id) => Builders<BackfillJob>.Filter.Eq(j => j.Id, id);

    /// <summary>Optimistic concurrency on a job: only the version that was read may be replaced.</summary>
    public static FilterDefinition<BackfillJob> JobAtVersion(string id, long version) =>
        Builders<BackfillJob>.Filter.Eq(j => j.Id, id) & Builders<BackfillJob>.Filter.Eq(j => j.Version, version);

    /// <summary>Served by (state, createdAt, _id) with a state, by (createdAt, _id) without.</summary>
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

    public static SortDefinition<BackfillJob> JobsOldestFirst { get; } = Builders<BackfillJob>.Sort.Ascending(j => j.CreatedAt).Ascending(j => j.Id);

    /// <summary>The API's listing order: served backwards by (state, createdAt, _id) and (createdAt, _id).</summary>
    public static SortDefinition<BackfillJob> JobsNewestFirst { get; } = Builders<BackfillJob>.Sort.Descending(j => j.CreatedAt).Descending(j => j.Id);

    /// <summary>
    /// One document per state present, <c>{ _id: "Running", count: 3 }</c>; the field is the mapped <c>state</c>.
    /// Reads every job; ended jobs are pruned after the retention, so the collection stays small.
    /// </summary>
    public static PipelineDefinition<BackfillJob, BsonDocument> JobCountsByState() =>
        new BsonDocument[] { new("$group", new BsonDocument { { "_id", "$state" }, { "count", new BsonDocument("$sum", 1) } }) };

    /// <summary>Jobs that have ended (completed, failed, cancelled) and were created before the cutoff: served by the (state, createdAt, _id) index.</summary>
    public static FilterDefinition<BackfillJob> FinishedJobsCreatedBefore(DateTimeOffset createdBefore) =>
        Builders<BackfillJob>.Filter.In(j => j.State, BackfillJobStates.Ended)
        & Builders<BackfillJob>.Filter.Lt(j => j.CreatedAt, createdBefore);

    /// <summary>
    /// The completed jobs of a series, whose confirmed-empty ranges the caller cuts to its window (few per series:
    /// ended jobs are pruned after the retention). Served by (symbol, timeframe, state).
    /// </summary>
    public static FilterDefinition<BackfillJob> CompletedJobsOf(SeriesKey series)
    {
        var f = Builders<BackfillJob>.Filter;
        return f.Eq(j => j.Symbol, series.Symbol) & f.Eq(j => j.Timeframe, series.Timeframe.Name) & f.Eq(j => j.State, BackfillJobState.Completed);
    }
}
