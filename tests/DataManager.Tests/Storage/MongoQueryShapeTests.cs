using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using DataManager.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace DataManager.Tests.Storage;

/// <summary>
/// The Mongo store's filters, sorts, updates, pipelines, indexes and document mapping rendered to BSON with the
/// real driver and checked against the server's documented rules, so the shape is proven here where no MongoDB
/// runs. The contract suite checks the behaviour where one does (the GitHub workflow). Each rule names the page
/// it comes from.
/// </summary>
public sealed class MongoQueryShapeTests
{
    // The rules, each with its source.
    private const string NoExprInUpsert =
        "$expr is not allowed in the query predicate of an upsert (error 224): https://jira.mongodb.org/browse/DOCS-14158, "
        + "https://www.mongodb.com/docs/manual/reference/operator/query/expr/ (allowing it is SERVER-59704, unresolved)";

    private const string UpsertRetriedOnDuplicateKey =
        "the server retries an upsert that hit a duplicate key only when the filter is equality predicates on the unique index's fields "
        + "and the update does not modify them: https://www.mongodb.com/docs/manual/reference/method/db.collection.findOneAndUpdate/#upsert-with-unique-index";

    private const string PipelineUpdateStages =
        "an update pipeline may only use $addFields/$set, $project/$unset, $replaceRoot/$replaceWith: "
        + "https://www.mongodb.com/docs/manual/tutorial/update-documents-with-aggregation-pipeline/";

    private const string LiteralForDollarStrings =
        "strings that may start with $ enter an expression through $literal, else they are read as field paths: "
        + "https://www.mongodb.com/docs/manual/tutorial/update-documents-with-aggregation-pipeline/ (Dollar Characters in Field Values), "
        + "https://www.mongodb.com/docs/manual/reference/operator/aggregation/literal/";

    private const string IdIsImmutable =
        "the _id of a document cannot be updated, nor replaced by a document with another _id: "
        + "https://www.mongodb.com/docs/manual/reference/method/db.collection.replaceOne/, https://www.mongodb.com/docs/manual/core/document/#the-_id-field";

    private const string IndexServesQuery =
        "an index serves a query when its keys are the equality fields, then the sort fields in order (all directions equal or all reversed), then the range field: "
        + "https://www.mongodb.com/docs/manual/tutorial/equality-sort-range-guideline/, https://www.mongodb.com/docs/manual/tutorial/sort-results-with-indexes/";

    private const string FirstPerGroupNeedsSort =
        "$first in $group is only meaningful after a $sort; a $sort on the group key then the order, before $group, can use an index: "
        + "https://www.mongodb.com/docs/manual/reference/operator/aggregation/first/, https://www.mongodb.com/docs/manual/reference/operator/aggregation/group/";

    private const string DatesAreMilliseconds =
        "a BSON date is a 64-bit count of milliseconds since the Unix epoch, in UTC: https://www.mongodb.com/docs/manual/reference/bson-types/#date";

    private static readonly LeaseClaimant PodA = new("pod-a", "3f2c9a");

    public MongoQueryShapeTests() => MongoMapping.EnsureRegistered();

    private static BsonDocument Render<T>(FilterDefinition<T> filter) =>
        filter.Render(new RenderArgs<T>(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry));

    private static BsonValue Render<T>(UpdateDefinition<T> update) =>
        update.Render(new RenderArgs<T>(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry));

    private static BsonDocument Render<T>(SortDefinition<T> sort) =>
        sort.Render(new RenderArgs<T>(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry));

    private static IReadOnlyList<BsonDocument> Render<TIn, TOut>(PipelineDefinition<TIn, TOut> pipeline) =>
        [.. pipeline.Render(new RenderArgs<TIn>(BsonSerializer.LookupSerializer<TIn>(), BsonSerializer.SerializerRegistry)).Documents];

    private static string Json(BsonValue value) => value.ToJson(new MongoDB.Bson.IO.JsonWriterSettings { OutputMode = MongoDB.Bson.IO.JsonOutputMode.RelaxedExtendedJson });

    // ---- the lease ----------------------------------------------------------------------------

    [Fact]
    public void The_lease_upsert_filters_on_id_equality_only()
    {
        var filter = Render(MongoQueries.LeaseById("data-manager"));
        Assert.Equal("""{ "_id" : "data-manager" }""", Json(filter));
        Assert.False(ContainsKey(filter, "$expr"), NoExprInUpsert);
        Assert.True(IsEqualityOnly(filter, ["_id"]), UpsertRetriedOnDuplicateKey);
    }

    [Fact]
    public void The_lease_update_is_one_set_stage_that_never_touches_id()
    {
        var stages = Assert.IsType<BsonArray>(Render(MongoQueries.LeaseAcquireOrRenew(PodA, TimeSpan.FromSeconds(30))));
        var stage = Assert.Single(stages).AsBsonDocument;
        Assert.All(stages, s => Assert.True(AllowedUpdateStages.Contains(s.AsBsonDocument.GetElement(0).Name), PipelineUpdateStages));
        var set = stage["$set"].AsBsonDocument;
        Assert.Equal(["term", "acquiredAt", "holder", "incarnation", "renewedAt", "expiresAt"], set.Names.ToArray());
        Assert.False(set.Contains("_id"), IdIsImmutable + "; " + UpsertRetriedOnDuplicateKey);
        Assert.DoesNotContain("new Date", Json(stages), StringComparison.Ordinal);
    }

    [Fact]
    public void The_lease_update_conditions_every_field_on_renewal_or_acquirability_by_the_server_clock()
    {
        var set = Render(MongoQueries.LeaseAcquireOrRenew(PodA, TimeSpan.FromSeconds(30))).AsBsonArray[0]["$set"].AsBsonDocument;
        const string renewal = """{ "$and" : [{ "$eq" : ["$holder", { "$literal" : "pod-a" }] }, { "$eq" : ["$incarnation", { "$literal" : "3f2c9a" }] }, { "$gt" : ["$expiresAt", "$$NOW"] }] }""";
        const string acquirable = $$"""{ "$or" : [{{renewal}}, { "$lte" : [{ "$ifNull" : ["$expiresAt", null] }, "$$NOW"] }] }""";
        Assert.Equal($$"""{ "$cond" : [{{renewal}}, "$term", { "$cond" : [{{acquirable}}, { "$add" : [{ "$ifNull" : ["$term", 0] }, 1] }, "$term"] }] }""", Json(set["term"]));
        Assert.Equal($$"""{ "$cond" : [{{renewal}}, "$acquiredAt", { "$cond" : [{{acquirable}}, "$$NOW", "$acquiredAt"] }] }""", Json(set["acquiredAt"]));
        Assert.Equal($$"""{ "$cond" : [{{acquirable}}, { "$literal" : "pod-a" }, "$holder"] }""", Json(set["holder"]));
        Assert.Equal($$"""{ "$cond" : [{{acquirable}}, { "$literal" : "3f2c9a" }, "$incarnation"] }""", Json(set["incarnation"]));
        Assert.Equal($$"""{ "$cond" : [{{acquirable}}, "$$NOW", "$renewedAt"] }""", Json(set["renewedAt"]));
        Assert.Equal($$"""{ "$cond" : [{{acquirable}}, { "$add" : ["$$NOW", 30000] }, "$expiresAt"] }""", Json(set["expiresAt"]));
    }

    [Fact]
    public void Configured_strings_enter_lease_expressions_only_through_literal()
    {
        // A pod name or incarnation starting with $ would otherwise be read as a field path or a variable.
        var hostile = new LeaseClaimant("$holder", "$$NOW");
        var rendered = Render(MongoQueries.LeaseAcquireOrRenew(hostile, TimeSpan.FromSeconds(30)));
        var fieldPaths = new[] { "$term", "$acquiredAt", "$holder", "$incarnation", "$renewedAt", "$expiresAt", "$$NOW" };
        var literals = new List<string>();
        foreach (var (value, insideLiteral) in Strings(rendered, insideLiteral: false))
        {
            if (insideLiteral)
            {
                literals.Add(value);
            }
            else
            {
                Assert.True(fieldPaths.Contains(value), $"\"{value}\" appears outside $literal: {LiteralForDollarStrings}");
            }
        }

        Assert.Contains("$holder", literals);
        Assert.Contains("$$NOW", literals);
        Assert.Equal(
            ["$holder", "$$NOW"],
            literals.Distinct().ToArray());
    }

    [Fact]
    public void The_release_is_a_plain_update_so_its_filter_may_use_expr_and_it_sets_only_expiresAt()
    {
        // Not an upsert: $expr is allowed in its filter, and the configured names are query values (never expressions).
        Assert.Equal(
            """{ "_id" : "e", "holder" : "pod-a", "incarnation" : "3f2c9a", "$expr" : { "$gt" : ["$expiresAt", "$$NOW"] } }""",
            Json(Render(MongoQueries.LeaseHeldBy("e", PodA))));
        var stages = Render(MongoQueries.LeaseRelease()).AsBsonArray;
        Assert.Equal("""[{ "$set" : { "expiresAt" : "$$NOW" } }]""", Json(stages));
        Assert.All(stages, s => Assert.True(AllowedUpdateStages.Contains(s.AsBsonDocument.GetElement(0).Name), PipelineUpdateStages));
    }

    [Fact]
    public void Lease_records_map_the_incarnation_and_read_records_written_before_it()
    {
        var lease = new LeaseRecord("e", "pod-a", 7, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(30), "3f2c9a");
        var document = lease.ToBsonDocument();
        Assert.Equal("e", document["_id"].AsString);
        Assert.Equal("3f2c9a", document["incarnation"].AsString);
        Assert.Equal(BsonType.DateTime, document["expiresAt"].BsonType);
        Assert.Equal(lease, BsonSerializer.Deserialize<LeaseRecord>(document));

        document.Remove("incarnation");
        Assert.Equal(lease with { Incarnation = "" }, BsonSerializer.Deserialize<LeaseRecord>(document));
    }

    // ---- every other write --------------------------------------------------------------------

    [Fact]
    public void Other_upserts_and_replacements_filter_on_id_equality_and_keep_the_id()
    {
        // SaveCycleAsync: ReplaceOne with upsert.
        var cycle = new AuditCycleRecord { Id = "c1", Term = 2, Leader = "pod-a", StartedAt = DateTimeOffset.UnixEpoch };
        var cycleFilter = Render(MongoQueries.CycleById(cycle.Id));
        Assert.False(ContainsKey(cycleFilter, "$expr"), NoExprInUpsert);
        Assert.True(IsEqualityOnly(cycleFilter, ["_id"]), UpsertRetriedOnDuplicateKey);
        Assert.Equal(cycleFilter["_id"], cycle.ToBsonDocument()["_id"]);

        // TryUpdateAsync: ReplaceOne (no upsert) of the job at its version; the replacement keeps the _id.
        var job = StoreContractTestsAccess.Job();
        Assert.Equal(Render(MongoQueries.JobAtVersion(job.Id, 3))["_id"], (job with { Version = 4 }).ToBsonDocument()["_id"]);
    }

    // ---- every query: the index that serves it -----------------------------------------------

    private sealed record QueryCase(string Name, string Collection, BsonDocument Filter, BsonDocument Sort, BsonDocument? ServedBy);

    private static readonly DateTimeOffset Cut = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static BsonDocument Keys(params (string Field, int Direction)[] keys) => new(keys.Select(k => new BsonElement(k.Field, k.Direction)));

    private static readonly BsonDocument IdIndex = Keys(("_id", 1));

    private static IEnumerable<QueryCase> Queries()
    {
        var auditsNewest = Render(MongoQueries.AuditsNewestFirst);
        var series = Keys(("symbol", 1), ("timeframe", 1), ("auditedAt", -1), ("_id", 1));
        var auditTime = Keys(("auditedAt", -1), ("_id", 1));
        yield return new("audits: one series in a range", "audits", Render(MongoQueries.Audits(new AuditQuery("BTCUSDT", "15m", Cut, Cut.AddDays(1)))), auditsNewest, series);
        yield return new("audits: one series", "audits", Render(MongoQueries.Audits(new AuditQuery("BTCUSDT", "15m"))), auditsNewest, series);
        yield return new("audits: all series", "audits", Render(MongoQueries.Audits(new AuditQuery())), auditsNewest, auditTime);
        yield return new("audits: all series in a range", "audits", Render(MongoQueries.Audits(new AuditQuery(From: Cut, To: Cut.AddDays(1)))), auditsNewest, auditTime);
        var latestAudits = Render(MongoQueries.AuditsLatestPerSeries());
        yield return new("audits: latest per series", "audits", [], latestAudits[0]["$sort"].AsBsonDocument, series);
        yield return new("audits: prune", "audits", Render(MongoQueries.AuditsOlderThan(Cut)), [], auditTime);
        yield return new("cycles: recent", "audit_cycles", [], Render(MongoQueries.CyclesNewestFirst), Keys(("startedAt", -1), ("_id", -1)));
        yield return new("cycles: prune", "audit_cycles", Render(MongoQueries.CyclesOlderThan(Cut)), [], Keys(("startedAt", -1), ("_id", -1)));
        yield return new("cycles: save (upsert)", "audit_cycles", Render(MongoQueries.CycleById("c1")), [], IdIndex);
        var healthSeries = Keys(("symbol", 1), ("timeframe", 1), ("at", -1), ("_id", 1));
        yield return new("health: history", "health_scores", Render(MongoQueries.HealthHistory("BTCUSDT", "1h", null, null)), Render(MongoQueries.HealthNewestFirst), healthSeries);
        yield return new("health: history in a range", "health_scores", Render(MongoQueries.HealthHistory("BTCUSDT", "1h", Cut, Cut.AddDays(1))), Render(MongoQueries.HealthNewestFirst), healthSeries);
        yield return new("health: prune", "health_scores", Render(MongoQueries.HealthOlderThan(Cut)), [], Keys(("at", 1)));
        var analyticsSeries = Keys(("symbol", 1), ("timeframe", 1), ("metric", 1), ("computedAt", -1), ("_id", 1));
        yield return new("analytics: history", "analytics_results", Render(MongoQueries.AnalyticsHistory("BTCUSDT", "1h", "trend", Cut, Cut.AddDays(1))), Render(MongoQueries.AnalyticsNewestFirst), analyticsSeries);
        var latestAnalytics = Render(MongoQueries.AnalyticsLatest("BTCUSDT", "1h"));
        yield return new("analytics: latest per metric", "analytics_results", latestAnalytics[0]["$match"].AsBsonDocument, latestAnalytics[1]["$sort"].AsBsonDocument, analyticsSeries);
        yield return new("analytics: prune", "analytics_results", Render(MongoQueries.AnalyticsOlderThan(Cut)), [], Keys(("computedAt", 1)));
        yield return new("archive: one series", "candle_archive", Render(MongoQueries.ArchiveOf("BTCUSDT", "1h")), Render(MongoQueries.ArchiveOldestFirst), Keys(("row.symbol", 1), ("timeframe", 1), ("removedAt", 1), ("_id", 1)));
        yield return new("jobs: by id", "backfill_jobs", Render(MongoQueries.JobById("j1")), [], IdIndex);
        yield return new("jobs: at version", "backfill_jobs", Render(MongoQueries.JobAtVersion("j1", 3)), [], IdIndex);
        yield return new("jobs: in a state", "backfill_jobs", Render(MongoQueries.JobsInState(BackfillJobState.Pending)), Render(MongoQueries.JobsOldestFirst), Keys(("state", 1), ("createdAt", 1), ("_id", 1)));
        yield return new("jobs: all", "backfill_jobs", Render(MongoQueries.JobsInState(null)), Render(MongoQueries.JobsOldestFirst), Keys(("createdAt", 1), ("_id", 1)));
        yield return new("jobs: newest first in a state", "backfill_jobs", Render(MongoQueries.JobsInStateAfter(BackfillJobState.Failed, null)), Render(MongoQueries.JobsNewestFirst), Keys(("state", 1), ("createdAt", 1), ("_id", 1)));
        yield return new("jobs: newest first", "backfill_jobs", Render(MongoQueries.JobsInStateAfter(null, null)), Render(MongoQueries.JobsNewestFirst), Keys(("createdAt", 1), ("_id", 1)));
        yield return new("jobs: completed of a series (confirmed-empty ranges)", "backfill_jobs", Render(MongoQueries.CompletedJobsOf(new SeriesKey("BTCUSDT", Timeframe.Parse("1m")))), [],
            Keys(("symbol", 1), ("timeframe", 1), ("state", 1)));
        yield return new("jobs: prune ended", "backfill_jobs", Render(MongoQueries.FinishedJobsCreatedBefore(Cut)), [], Keys(("state", 1), ("createdAt", 1), ("_id", 1)));
        yield return new("lease: acquire, renew, read", "leader_election", Render(MongoQueries.LeaseById("e")), [], IdIndex);
        yield return new("lease: release", "leader_election", Render(MongoQueries.LeaseHeldBy("e", PodA)), [], IdIndex);

        // Not served in full by any index: each is explained below.
        yield return new("audits: one symbol, any timeframe", "audits", Render(MongoQueries.Audits(new AuditQuery("BTCUSDT"))), auditsNewest, null);
        yield return new("audits: one timeframe, any symbol", "audits", Render(MongoQueries.Audits(new AuditQuery(Timeframe: "1h"))), auditsNewest, null);
        Assert.Equal("$group", Render(MongoQueries.JobCountsByState()).Single().GetElement(0).Name);
        yield return new("jobs: count by state", "backfill_jobs", [], [], null);
        yield return new("jobs: newest first after a position", "backfill_jobs",
            Render(MongoQueries.JobsInStateAfter(BackfillJobState.Failed, new BackfillJobPosition(Cut, "j9"))), Render(MongoQueries.JobsNewestFirst), null);
    }

    /// <summary>
    /// Queries no index serves in full, each with the reason that is acceptable. Anything else that an index
    /// does not serve fails the test.
    /// </summary>
    private static readonly Dictionary<string, string> Explained = new()
    {
        ["audits: one symbol, any timeframe"] = "the series index narrows to the symbol; its audits within the retention are sorted in memory",
        ["audits: one timeframe, any symbol"] = "the time index is read newest first and filtered on the timeframe; the API's page size bounds it",
        ["jobs: count by state"] = "a $group over every job; ended jobs are pruned after the retention, so the collection stays small",
        ["jobs: newest first after a position"] = "an $or of createdAt before the position, or equal to it with a smaller _id: each branch is a bounded backwards scan of the same index as the first page",
    };

    [Fact]
    public void Every_query_is_served_by_a_declared_index()
    {
        foreach (var query in Queries())
        {
            var indexes = MongoQueries.Indexes[query.Collection].Append(IdIndex).ToList();
            if (query.ServedBy is null)
            {
                Assert.True(Explained.ContainsKey(query.Name), $"{query.Name}: no index serves it and no reason is given");
                Assert.DoesNotContain(indexes, i => Serves(i, query.Filter, query.Sort));
                continue;
            }

            Assert.True(indexes.Contains(query.ServedBy), $"{query.Name}: {Json(query.ServedBy)} is not declared on {query.Collection}");
            Assert.True(Serves(query.ServedBy, query.Filter, query.Sort), $"{query.Name}: {Json(query.ServedBy)} does not serve filter {Json(query.Filter)} sort {Json(query.Sort)}. {IndexServesQuery}");
        }

        Assert.Equal(Explained.Keys.Order(), Queries().Where(q => q.ServedBy is null).Select(q => q.Name).Order());
    }

    [Fact]
    public void Every_newest_first_or_oldest_first_order_breaks_time_ties_by_id()
    {
        var sorts = new[]
        {
            Render(MongoQueries.AuditsNewestFirst), Render(MongoQueries.CyclesNewestFirst), Render(MongoQueries.HealthNewestFirst),
            Render(MongoQueries.AnalyticsNewestFirst), Render(MongoQueries.ArchiveOldestFirst), Render(MongoQueries.JobsOldestFirst), Render(MongoQueries.JobsNewestFirst),
            Render(MongoQueries.AuditsLatestPerSeries())[0]["$sort"].AsBsonDocument, Render(MongoQueries.AnalyticsLatest("B", "1h"))[1]["$sort"].AsBsonDocument,
        };
        Assert.All(sorts, sort => Assert.Equal("_id", sort.Names.Last()));
    }

    [Fact]
    public void Latest_per_group_pipelines_sort_by_the_group_key_then_newest_before_taking_the_first()
    {
        var audits = Render(MongoQueries.AuditsLatestPerSeries());
        Assert.Equal(["$sort", "$group", "$replaceRoot"], audits.Select(s => s.GetElement(0).Name).ToArray());
        Assert.Equal("""{ "symbol" : 1, "timeframe" : 1, "auditedAt" : -1, "_id" : 1 }""", Json(audits[0]["$sort"]));
        Assert.Equal("$$ROOT", audits[1]["$group"]["doc"]["$first"].AsString);

        var analytics = Render(MongoQueries.AnalyticsLatest("$BTC", "1h"));
        Assert.Equal(["$match", "$sort", "$group", "$replaceRoot"], analytics.Select(s => s.GetElement(0).Name).ToArray());
        // $match is query language: a requested symbol starting with $ is compared as a value, never read as a path.
        Assert.Equal("""{ "symbol" : "$BTC", "timeframe" : "1h" }""", Json(analytics[0]["$match"]));
        Assert.Equal("""{ "metric" : 1, "computedAt" : -1, "_id" : 1 }""", Json(analytics[1]["$sort"]));
        Assert.Equal("$$ROOT", analytics[2]["$group"]["doc"]["$first"].AsString);
        _ = FirstPerGroupNeedsSort;
    }

    [Fact]
    public void Indexes_superseded_by_the_id_tie_break_are_the_old_key_patterns()
    {
        foreach (var (collection, names) in MongoQueries.SupersededIndexes)
        {
            var current = MongoQueries.Indexes[collection].Select(IndexName).ToList();
            Assert.All(names, name => Assert.DoesNotContain(name, current));
        }

        Assert.Equal("symbol_1_timeframe_1_auditedAt_-1__id_1", IndexName(MongoQueries.Indexes["audits"][0]));
    }

    [Fact]
    public void Times_map_to_bson_dates_of_whole_milliseconds_in_utc()
    {
        var at = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_234_567);
        var audit = StoreContractTestsAccess.Audit() with { AuditedAt = at };
        var stored = audit.ToBsonDocument()["auditedAt"].AsBsonDateTime;
        Assert.Equal(at.ToUnixTimeMilliseconds(), stored.MillisecondsSinceEpoch);
        var back = BsonSerializer.Deserialize<AuditRecord>(audit.ToBsonDocument()).AuditedAt;
        Assert.Equal(TimeSpan.Zero, back.Offset);
        Assert.Equal(DataManager.Storage.StoreJson.ToStoredPrecision(at), back);
        _ = DatesAreMilliseconds;
    }

    // ---- rule helpers -------------------------------------------------------------------------

    private static readonly HashSet<string> AllowedUpdateStages = ["$addFields", "$set", "$project", "$unset", "$replaceRoot", "$replaceWith"];

    private static string IndexName(BsonDocument keys) => string.Join("_", keys.Elements.Select(e => $"{e.Name}_{e.Value.ToInt32()}"));

    private static bool ContainsKey(BsonValue value, string key) => value switch
    {
        BsonDocument d => d.Names.Contains(key) || d.Values.Any(v => ContainsKey(v, key)),
        BsonArray a => a.Any(v => ContainsKey(v, key)),
        _ => false,
    };

    private static bool IsEqualityOnly(BsonDocument filter, string[] fields) =>
        filter.Names.OrderBy(n => n, StringComparer.Ordinal).SequenceEqual(fields.Order(StringComparer.Ordinal))
        && filter.Values.All(v => v is not BsonDocument d || !d.Names.Any(n => n.StartsWith('$')));

    private static IEnumerable<(string Value, bool InsideLiteral)> Strings(BsonValue value, bool insideLiteral) => value switch
    {
        BsonString s => [(s.Value, insideLiteral)],
        BsonDocument d => d.Elements.SelectMany(e => Strings(e.Value, insideLiteral || e.Name == "$literal")),
        BsonArray a => a.SelectMany(v => Strings(v, insideLiteral)),
        _ => [],
    };

    /// <summary>Equality fields first (any order), then the sort fields in order, then the one range field.</summary>
    private static bool Serves(BsonDocument index, BsonDocument filter, BsonDocument sort)
    {
        if (filter.ElementCount == 0 && sort.ElementCount == 0)
        {
            return false; // a read of every document: no index narrows it
        }

        var equality = new HashSet<string>();
        string? range = null;
        foreach (var element in filter)
        {
            if (element.Name == "$expr")
            {
                continue; // evaluated on the documents the other predicates select
            }

            if (element.Value is BsonDocument op && op.Names.Any(n => n is "$gt" or "$gte" or "$lt" or "$lte"))
            {
                range = element.Name;
            }
            else
            {
                equality.Add(element.Name);
            }
        }

        if (equality.Contains("_id"))
        {
            return index.Names.First() == "_id";
        }

        var keys = index.Elements.ToList();
        if (keys.Count < equality.Count || !keys.Take(equality.Count).All(k => equality.Contains(k.Name)))
        {
            return false;
        }

        var rest = keys.Skip(equality.Count).ToList();
        var sortKeys = sort.Elements.Where(e => !equality.Contains(e.Name)).ToList();
        if (rest.Count < sortKeys.Count)
        {
            return false;
        }

        int? relative = null;
        for (var i = 0; i < sortKeys.Count; i++)
        {
            if (rest[i].Name != sortKeys[i].Name)
            {
                return false;
            }

            var same = rest[i].Value.ToInt32() == sortKeys[i].Value.ToInt32() ? 1 : -1;
            if (relative is not null && relative != same)
            {
                return false;
            }

            relative = same;
        }

        return range is null || sortKeys.Any(k => k.Name == range) || (rest.Count > sortKeys.Count && rest[sortKeys.Count].Name == range);
    }

    [Fact]
    public void Audit_query_filter_uses_the_indexed_fields_and_bson_dates()
    {
        var from = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
        var rendered = Render(MongoQueries.Audits(new AuditQuery("BTCUSDT", "15m", from, from.AddDays(1))));
        Assert.Equal("BTCUSDT", rendered["symbol"].AsString);
        Assert.Equal("15m", rendered["timeframe"].AsString);
        var range = rendered["auditedAt"].AsBsonDocument;
        Assert.Equal(new BsonDateTime(from.UtcDateTime), range["$gte"]);
        Assert.Equal(new BsonDateTime(from.AddDays(1).UtcDateTime), range["$lt"]);
        Assert.Equal(new BsonDocument(), Render(MongoQueries.Audits(new AuditQuery())));
    }

    [Fact]
    public void Job_filters_name_the_state_as_a_string_and_the_version()
    {
        Assert.Equal("""{ "state" : "Running" }""", Json(Render(MongoQueries.JobsInState(BackfillJobState.Running))));
        Assert.Equal("""{ "_id" : "j1", "version" : 3 }""", Json(Render(MongoQueries.JobAtVersion("j1", 3))));
        var counts = MongoQueries.JobCountsByState().Render(new RenderArgs<BackfillJob>(BsonSerializer.LookupSerializer<BackfillJob>(), BsonSerializer.SerializerRegistry));
        Assert.Equal("""{ "$group" : { "_id" : "$state", "count" : { "$sum" : 1 } } }""", Json(Assert.Single(counts.Documents)));
        var prune = Render(MongoQueries.FinishedJobsCreatedBefore(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(new BsonArray { "Completed", "Failed", "Cancelled" }, prune["state"]["$in"]);
        Assert.Equal(BsonType.DateTime, prune["createdAt"]["$lt"].BsonType);
        var at = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(
            """{ "state" : "Failed", "$or" : [{ "createdAt" : { "$lt" : { "$date" : "2026-11-01T00:00:00Z" } } }, { "createdAt" : { "$date" : "2026-11-01T00:00:00Z" }, "_id" : { "$lt" : "j9" } }] }""",
            Json(Render(MongoQueries.JobsInStateAfter(BackfillJobState.Failed, new BackfillJobPosition(at, "j9")))));
        Assert.Equal("{ }", Json(Render(MongoQueries.JobsInStateAfter(null, null))));
    }

    [Fact]
    public void Records_map_ids_dates_and_decimal128_and_round_trip()
    {
        var audit = StoreContractTestsAccess.Audit();
        var document = audit.ToBsonDocument();
        Assert.Equal(audit.Id, document["_id"].AsString);
        Assert.Equal(BsonType.DateTime, document["auditedAt"].BsonType);
        Assert.Equal(BsonType.Document, document["health"].BsonType);
        Assert.Equal(BsonType.Array, document["gaps"].BsonType);
        Assert.Equal(BsonType.DateTime, document["gaps"][0]["from"].BsonType);
        var back = BsonSerializer.Deserialize<AuditRecord>(document);
        Assert.Equal(DataManager.Storage.StoreJson.Serialize(audit), DataManager.Storage.StoreJson.Serialize(back));

        var row = DemoCandles.Make("BTCUSDT", Timeframe.Parse("1h"), new DateTime(2026, 11, 22, 11, 0, 0, DateTimeKind.Utc), 97000.12345678m, 97100m, 96900m, 97050m, 12.5m, 7);
        var archived = new ArchivedCandle { Id = "a", Timeframe = "1h", RemovedAt = DateTimeOffset.UnixEpoch, Term = 1, Reason = "keep_newest", Row = row };
        var archivedDocument = archived.ToBsonDocument();
        Assert.Equal(BsonType.Decimal128, archivedDocument["row"]["open"].BsonType);
        Assert.Equal(97000.12345678m, (decimal)archivedDocument["row"]["open"].AsDecimal128);
        Assert.Equal(BsonType.Decimal128, archivedDocument["row"]["priceChange"].BsonType);
        Assert.Equal(row, BsonSerializer.Deserialize<ArchivedCandle>(archivedDocument).Row);

    }

    [Fact]
    public void Analytics_results_and_backfill_jobs_round_trip_through_bson()
    {
        var result = new DataManager.Analytics.AnalyticsResult
        {
            Id = "r1",
            Symbol = "BTCUSDT",
            Timeframe = "1h",
            Metric = "trend",
            ComputedAt = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero),
            Term = 3,
            Values = new Dictionary<string, double?> { ["sma20"] = 97000.5, ["sma50"] = null },
            Reasons = new Dictionary<string, string> { ["sma50"] = "needs 50 candles, have 30" },
            Labels = new Dictionary<string, string> { ["crossover"] = "none" },
        };
        var resultDocument = result.ToBsonDocument();
        Assert.Equal(BsonType.Null, resultDocument["values"]["sma50"].BsonType);
        var resultBack = BsonSerializer.Deserialize<DataManager.Analytics.AnalyticsResult>(resultDocument);
        Assert.Equal(DataManager.Storage.StoreJson.Serialize(result), DataManager.Storage.StoreJson.Serialize(resultBack));

        var job = new BackfillJob
        {
            Id = "j1",
            Symbol = "BTCUSDT",
            Timeframe = "1m",
            From = DateTimeOffset.UnixEpoch,
            To = DateTimeOffset.UnixEpoch.AddDays(1),
            Trigger = "auto",
            State = BackfillJobState.Running,
            Cursor = DateTimeOffset.UnixEpoch.AddHours(1),
            CreatedAt = DateTimeOffset.UnixEpoch,
            UpdatedAt = DateTimeOffset.UnixEpoch,
            Version = 4,
            Owner = "pod-0",
            OwnerIncarnation = "4f1c",
            WeightUsed = 42,
            ConfirmedEmpty = [new EmptyRange(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddMinutes(5))],
        };
        var jobDocument = job.ToBsonDocument();
        Assert.Equal("Running", jobDocument["state"].AsString);
        Assert.Equal("4f1c", jobDocument["ownerIncarnation"].AsString);
        Assert.Equal(BsonType.DateTime, jobDocument["confirmedEmpty"][0]["from"].BsonType);
        var jobBack = BsonSerializer.Deserialize<BackfillJob>(jobDocument);
        Assert.Equal(DataManager.Storage.StoreJson.Serialize(job), DataManager.Storage.StoreJson.Serialize(jobBack));
    }

    /// <summary>
    /// Every Mongo store class reads through the one registered <see cref="MongoStoreDatabase"/> (its mapping and
    /// majority read and write concerns), and the registration resolves without a server (the client connects lazily).
    /// </summary>
    [Fact]
    public void Every_mongo_store_class_takes_the_shared_store_database_and_resolves_from_the_registration()
    {
        var ports = new[] { typeof(DataManager.Storage.IStoreLifecycle), typeof(DataManager.Storage.IAuditStore), typeof(DataManager.Storage.IHealthScoreStore),
            typeof(DataManager.Storage.IBackfillJobStore), typeof(DataManager.Storage.IAnalyticsStore), typeof(DataManager.Storage.ICandleArchiveStore),
            typeof(DataManager.Storage.ILeaseStore), typeof(DataManager.Storage.IIncidentStore), typeof(IConfirmedEmptyRanges) };
        var registrations = DataManager.Storage.StorageServiceCollectionExtensions.AddDataManagerStore(
            new Microsoft.Extensions.DependencyInjection.ServiceCollection(), new DataManager.Configuration.StoreOptions { MongoUrl = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100" });
        using var services = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(registrations);
        var stores = ports.Select(services.GetService).ToList();
        Assert.All(stores, store => Assert.Equal(typeof(MongoStoreDatabase).Namespace, store?.GetType().Namespace));
        Assert.Contains(stores, store => store is MongoConfirmedEmptyRanges);
        Assert.All(stores, store => Assert.Equal([typeof(MongoStoreDatabase)], store!.GetType().GetConstructors().Single().GetParameters().Select(p => p.ParameterType)));
    }

    private sealed class StoreContractTestsAccess : StoreContractTests
    {
        public static AuditRecord Audit() => Audit("BTCUSDT", "15m", T0.AddMilliseconds(250));

        public static BackfillJob Job() => new()
        {
            Id = "j1",
            Symbol = "BTCUSDT",
            Timeframe = "1m",
            From = T0,
            To = T0.AddDays(1),
            Trigger = "manual",
            State = BackfillJobState.Running,
            CreatedAt = T0,
            UpdatedAt = T0,
            Version = 3,
        };

        protected override Task<TStore> CreateStoreAsync<TStore>() => throw new NotSupportedException();

        protected override Task<DataManager.Storage.IIncidentStore> CreateIncidentStoreAsync() => throw new NotSupportedException();

        protected override Task<(DataManager.Storage.IBackfillJobStore Jobs, DataManager.Auditing.IConfirmedEmptyRanges Ranges)> CreateConfirmedEmptyRangesAsync() =>
            throw new NotSupportedException();
    }
}
