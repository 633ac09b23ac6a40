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
/// The Mongo store's filters, updates and document mapping rendered to BSON, so its shape is checked here
/// where no MongoDB runs. The contract suite checks the behaviour where one does.
/// </summary>
public sealed class MongoQueryShapeTests
{
    public MongoQueryShapeTests() => MongoMapping.EnsureRegistered();

    private static BsonDocument Render<T>(FilterDefinition<T> filter) =>
        filter.Render(new RenderArgs<T>(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry));

    private static BsonValue Render<T>(UpdateDefinition<T> update) =>
        update.Render(new RenderArgs<T>(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry));

    private static string Json(BsonValue value) => value.ToJson(new MongoDB.Bson.IO.JsonWriterSettings { OutputMode = MongoDB.Bson.IO.JsonOutputMode.RelaxedExtendedJson });

    [Fact]
    public void Lease_filter_matches_held_by_me_or_expired_by_the_server_clock()
    {
        var rendered = Render(MongoQueries.LeaseAcquirable("data-manager", "pod-a"));
        Assert.Equal(
            """{ "_id" : "data-manager", "$expr" : { "$or" : [{ "$and" : [{ "$eq" : ["$holder", "pod-a"] }, { "$gt" : ["$expiresAt", "$$NOW"] }] }, { "$lte" : ["$expiresAt", "$$NOW"] }] } }""",
            Json(rendered));
    }

    [Fact]
    public void Lease_update_is_one_pipeline_stage_on_NOW_that_keeps_or_raises_the_term()
    {
        var rendered = Render(MongoQueries.LeaseAcquireOrRenew("pod-a", TimeSpan.FromSeconds(30)));
        var stages = Assert.IsType<BsonArray>(rendered);
        var set = Assert.Single(stages).AsBsonDocument["$set"].AsBsonDocument;
        Assert.Equal(["term", "acquiredAt", "holder", "renewedAt", "expiresAt"], set.Names.ToArray());
        Assert.Equal("""{ "$cond" : [{ "$and" : [{ "$eq" : ["$holder", "pod-a"] }, { "$gt" : ["$expiresAt", "$$NOW"] }] }, "$term", { "$add" : [{ "$ifNull" : ["$term", 0] }, 1] }] }""", Json(set["term"]));
        Assert.Equal("$$NOW", set["renewedAt"].AsString);
        Assert.Equal("""{ "$add" : ["$$NOW", 30000] }""", Json(set["expiresAt"]));
        Assert.DoesNotContain("new Date", Json(rendered), StringComparison.Ordinal);
    }

    [Fact]
    public void Lease_release_only_touches_an_unexpired_lease_of_its_holder()
    {
        Assert.Equal(
            """{ "_id" : "e", "holder" : "pod-a", "$expr" : { "$gt" : ["$expiresAt", "$$NOW"] } }""",
            Json(Render(MongoQueries.LeaseHeldBy("e", "pod-a"))));
        Assert.Equal("""[{ "$set" : { "expiresAt" : "$$NOW" } }]""", Json(Render(MongoQueries.LeaseRelease())));
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

        var lease = new LeaseRecord("e", "pod-a", 7, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(30));
        var leaseDocument = lease.ToBsonDocument();
        Assert.Equal("e", leaseDocument["_id"].AsString);
        Assert.Equal(BsonType.DateTime, leaseDocument["expiresAt"].BsonType);
        Assert.Equal(lease, BsonSerializer.Deserialize<LeaseRecord>(leaseDocument));
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

    private sealed class StoreContractTestsAccess : StoreContractTests
    {
        public static AuditRecord Audit() => Audit("BTCUSDT", "15m", T0.AddMilliseconds(250));

        protected override Task<TStore> CreateStoreAsync<TStore>() => throw new NotSupportedException();
    }
}
