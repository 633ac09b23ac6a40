using DataManager.Incidents;
using DataManager.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace DataManager.Tests.Storage;

/// <summary>The Mongo incident store's documents and filters rendered to BSON, checked where no MongoDB runs.</summary>
public sealed class MongoIncidentShapeTests
{
    public MongoIncidentShapeTests() => MongoMapping.EnsureRegistered();

    [Fact]
    public void Incidents_map_id_enums_and_dates_and_round_trip()
    {
        var at = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
        var incident = StoreContractTests.Incident("i1", at) with
        {
            State = IncidentState.Resolved, ResolvedAt = at.AddHours(1), Cause = ResolutionCause.SourceEmpty, RepairSeconds = 3600, Version = 2,
        };
        var document = incident.ToBsonDocument();
        Assert.Equal("i1", document["_id"].AsString);
        Assert.Equal("Resolved", document["state"].AsString);
        Assert.Equal("Major", document["severity"].AsString);
        Assert.Equal("SourceEmpty", document["cause"].AsString);
        Assert.Equal(BsonType.DateTime, document["openedAt"].BsonType);
        Assert.Equal(BsonType.DateTime, document["timeline"][0]["at"].BsonType);
        var back = BsonSerializer.Deserialize<Incident>(document);
        Assert.Equal(DataManager.Storage.StoreJson.Serialize(incident), DataManager.Storage.StoreJson.Serialize(back));
    }

    [Fact]
    public void Incident_query_filters_on_the_stored_field_names()
    {
        var from = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
        var filter = MongoIncidentStore.Matching(new IncidentQuery(IncidentState.Open, "BTCUSDT", "1m", IncidentSeverity.Critical, from, from.AddDays(1)));
        var rendered = filter.Render(new RenderArgs<Incident>(BsonSerializer.LookupSerializer<Incident>(), BsonSerializer.SerializerRegistry));
        Assert.Equal("Open", rendered["state"].AsString);
        Assert.Equal("BTCUSDT", rendered["symbol"].AsString);
        Assert.Equal("1m", rendered["timeframe"].AsString);
        Assert.Equal("Critical", rendered["severity"].AsString);
        Assert.Equal(BsonType.DateTime, rendered["openedAt"]["$gte"].BsonType);
        Assert.Equal(BsonType.DateTime, rendered["openedAt"]["$lt"].BsonType);
    }
}
