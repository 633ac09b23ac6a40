using System.Text.Json;
using DataManager.Auditing;
using DataManager.Storage;
using DataManager.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;

namespace DataManager.Tests.Storage;

/// <summary>
/// An audit record as stored and answered: its field names (existing MongoDB documents and SQLite bodies must
/// still read) and the order of its JSON (the API's and the CLI's), whatever the types it is built from.
/// </summary>
public sealed class AuditRecordShapeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);

    private static readonly string[] RecordFields =
    [
        "id", "cycleId", "term", "symbol", "timeframe", "windowFrom", "windowTo", "auditedAt", "expectedCandles", "actualCandles",
        "gaps", "duplicates", "duplicateSurplus", "integrity", "anomalies", "health", "duplicatesRemoved", "error",
    ];

    public AuditRecordShapeTests() => MongoMapping.EnsureRegistered();

    private static AuditRecord Record() => new()
    {
        Id = "a1",
        CycleId = "c1",
        Term = 3,
        Symbol = "BTCUSDT",
        Timeframe = "1h",
        WindowFrom = T0.AddDays(-1),
        WindowTo = T0,
        AuditedAt = T0.AddMilliseconds(250),
        ExpectedCandles = 24,
        ActualCandles = 23,
        Gaps = [new GapFinding(T0.AddHours(-3), T0.AddHours(-3), 1)],
        Duplicates = [new DuplicateFinding(T0.AddHours(-2), 2)],
        DuplicateSurplus = 1,
        Integrity = [new IntegrityFinding(T0.AddHours(-1), "ohlc_inconsistent", "r1")],
        Anomalies = [new AnomalyFinding(T0.AddHours(-4), "volume_spike", 7.5)],
        Health = new HealthScore(95.83, 100, 90, 96, "healthy"),
        DuplicatesRemoved = 1,
        Error = null,
    };

    [Fact]
    public void Json_names_and_order_are_the_records()
    {
        using var json = JsonDocument.Parse(StoreJson.Serialize(Record()));
        Assert.Equal(RecordFields, json.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
    }

    [Fact]
    public void The_reports_json_keeps_its_order_and_a_record_takes_every_finding_of_it()
    {
        var report = new SeriesAuditReport
        {
            Symbol = "BTCUSDT", Timeframe = "1h", From = T0.AddDays(-1), To = T0, ExpectedCandles = 24, ActualCandles = 23,
            Gaps = Record().Gaps, Duplicates = Record().Duplicates, DuplicateSurplus = 1, Integrity = Record().Integrity,
            Anomalies = Record().Anomalies, Health = Record().Health, DuplicatesRemoved = 1, Rows = 24, NewestOpen = T0,
        };
        using var json = JsonDocument.Parse(StoreJson.Serialize(report));
        Assert.Equal(
            ["symbol", "timeframe", "from", "to", "expectedCandles", "actualCandles", "gaps", "duplicates", "duplicateSurplus", "integrity", "anomalies", "health", "error", "duplicatesRemoved", "rows", "newestOpen"],
            json.RootElement.EnumerateObject().Select(p => p.Name).ToArray());

        var record = new AuditRecord(report)
        {
            Id = "a1", CycleId = "c1", Term = 3, Symbol = report.Symbol, Timeframe = report.Timeframe,
            WindowFrom = report.From, WindowTo = report.To, AuditedAt = T0.AddMilliseconds(250), DuplicatesRemoved = report.DuplicatesRemoved,
        };
        Assert.Equal(StoreJson.Serialize(Record()), StoreJson.Serialize(record));
    }

    [Fact]
    public void Bson_field_names_are_the_stored_ones()
    {
        // Element order within a document is not read by anything; the names are.
        var names = Record().ToBsonDocument().Names.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(RecordFields.Skip(1).Prepend("_id").Order(StringComparer.Ordinal).ToArray(), names);
    }

    [Fact]
    public void A_document_stored_before_reads_back_every_field()
    {
        // As an earlier version wrote it: every field at the top level, times as BSON dates, no type discriminator.
        var stored = BsonDocument.Parse("""
            {
              "_id": "a1", "cycleId": "c1", "term": 3, "symbol": "BTCUSDT", "timeframe": "1h",
              "windowFrom": { "$date": "2026-11-21T00:00:00Z" }, "windowTo": { "$date": "2026-11-22T00:00:00Z" },
              "auditedAt": { "$date": "2026-11-22T00:00:00.250Z" }, "expectedCandles": 24, "actualCandles": 23,
              "gaps": [ { "from": { "$date": "2026-11-21T21:00:00Z" }, "to": { "$date": "2026-11-21T21:00:00Z" }, "missingCandles": 1, "sourceEmpty": false } ],
              "duplicates": [ { "openTime": { "$date": "2026-11-21T22:00:00Z" }, "rows": 2 } ],
              "duplicateSurplus": 1,
              "integrity": [ { "openTime": { "$date": "2026-11-21T23:00:00Z" }, "rule": "ohlc_inconsistent", "rowId": "r1" } ],
              "anomalies": [ { "openTime": { "$date": "2026-11-21T20:00:00Z" }, "kind": "volume_spike", "score": 7.5 } ],
              "health": { "completeness": 95.83, "freshness": 100.0, "consistency": 90.0, "quality": 96.0, "level": "healthy" },
              "duplicatesRemoved": 1, "error": null
            }
            """);
        var read = BsonSerializer.Deserialize<AuditRecord>(stored);
        Assert.Equal(StoreJson.Serialize(Record()), StoreJson.Serialize(read));
    }
}
