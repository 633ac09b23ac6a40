using DataManager.Leadership;
using DataManager.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace DataManager.Tests.Storage;

/// <summary>
/// The lease's update pipeline, rendered by the real driver, evaluated here for every state the stored lease
/// can be in. The evaluator covers only the operators the pipeline uses, with the semantics their pages
/// document: a <c>$set</c> stage evaluates every expression against the input document
/// (https://www.mongodb.com/docs/manual/reference/operator/aggregation/set/); an upsert that matches nothing
/// runs the pipeline on a document made of the filter's equality fields, here only <c>_id</c>
/// (https://www.mongodb.com/docs/manual/reference/method/db.collection.findOneAndUpdate/#upsert); comparisons
/// follow the BSON comparison order, null and missing before numbers, strings and dates
/// (https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/). It proves the conditions;
/// the contract suite on a real MongoDB (the GitHub workflow) proves the server agrees.
/// </summary>
public sealed class MongoLeasePipelineTests
{
    private static readonly DateTime Now = new(2026, 11, 22, 12, 0, 0, DateTimeKind.Utc);
    private static readonly LeaseClaimant Me = new("pod-a", "i2");

    public MongoLeasePipelineTests() => MongoMapping.EnsureRegistered();

    private static BsonDocument Lease(string holder, string incarnation, long term, DateTime expiresAt) => new()
    {
        { "_id", "e" },
        { "holder", holder },
        { "term", term },
        { "acquiredAt", new BsonDateTime(Now.AddMinutes(-10)) },
        { "renewedAt", new BsonDateTime(expiresAt.AddSeconds(-30)) },
        { "expiresAt", new BsonDateTime(expiresAt) },
        { "incarnation", incarnation },
    };

    /// <summary>What the server stores after the acquire-or-renew write, and whether the claimant holds it.</summary>
    private static (BsonDocument After, bool IsHolder) Write(BsonDocument? stored, LeaseClaimant claimant)
    {
        var filter = MongoQueries.LeaseById("e").Render(new RenderArgs<LeaseRecord>(BsonSerializer.LookupSerializer<LeaseRecord>(), BsonSerializer.SerializerRegistry));
        var pipeline = MongoQueries.LeaseAcquireOrRenew(claimant, TimeSpan.FromSeconds(30))
            .Render(new RenderArgs<LeaseRecord>(BsonSerializer.LookupSerializer<LeaseRecord>(), BsonSerializer.SerializerRegistry)).AsBsonArray;
        var document = stored?.DeepClone().AsBsonDocument ?? new BsonDocument(filter.Elements); // the upsert's seed
        foreach (var stage in pipeline.Select(s => s.AsBsonDocument))
        {
            var set = stage["$set"].AsBsonDocument;
            var input = document;
            document = input.DeepClone().AsBsonDocument;
            foreach (var field in set)
            {
                // A field set to a missing value stays missing (it is not written as null).
                if (Evaluate(field.Value, input) is BsonUndefined)
                {
                    document.Remove(field.Name);
                }
                else
                {
                    document[field.Name] = Evaluate(field.Value, input);
                }
            }
        }

        var record = BsonSerializer.Deserialize<LeaseRecord>(document);
        return (document, record.Holder == claimant.Holder && record.Incarnation == claimant.Incarnation);
    }

    [Fact]
    public void A_new_lease_is_created_with_term_1()
    {
        var (after, isHolder) = Write(null, Me);
        Assert.True(isHolder);
        Assert.Equal(1L, after["term"].AsInt64);
        Assert.Equal("pod-a", after["holder"].AsString);
        Assert.Equal("i2", after["incarnation"].AsString);
        Assert.Equal(Now, after["acquiredAt"].ToUniversalTime());
        Assert.Equal(Now.AddSeconds(30), after["expiresAt"].ToUniversalTime());
    }

    [Fact]
    public void A_renewal_by_the_same_holder_and_incarnation_keeps_the_term_and_acquiredAt()
    {
        var stored = Lease("pod-a", "i2", 7, Now.AddSeconds(5));
        var (after, isHolder) = Write(stored, Me);
        Assert.True(isHolder);
        Assert.Equal(7L, after["term"].AsInt64);
        Assert.Equal(stored["acquiredAt"], after["acquiredAt"]);
        Assert.Equal(Now, after["renewedAt"].ToUniversalTime());
        Assert.Equal(Now.AddSeconds(30), after["expiresAt"].ToUniversalTime());
    }

    [Theory]
    [InlineData("pod-b", "i9")] // another replica
    [InlineData("pod-a", "i1")] // this pod's previous process, killed and restarted in place
    public void An_unexpired_lease_of_anyone_else_is_left_exactly_as_it_was(string holder, string incarnation)
    {
        var stored = Lease(holder, incarnation, 7, Now.AddSeconds(5));
        var (after, isHolder) = Write(stored, Me);
        Assert.False(isHolder);
        Assert.Equal(stored, after);
    }

    [Theory]
    [InlineData("pod-b", "i9", 0)] // another replica's, expired
    [InlineData("pod-a", "i1", 0)] // this pod's previous process's, expired
    [InlineData("pod-a", "i2", 0)] // this process's own, expired: an acquisition, not a renewal
    [InlineData("pod-b", "i9", -60)]
    public void An_expired_or_released_lease_is_acquired_with_the_term_raised_by_one(string holder, string incarnation, int expiredSecondsAgo)
    {
        // Released means expiresAt = the release's now, so expiresAt == now is acquirable.
        var stored = Lease(holder, incarnation, 7, Now.AddSeconds(expiredSecondsAgo));
        var (after, isHolder) = Write(stored, Me);
        Assert.True(isHolder);
        Assert.Equal(8L, after["term"].AsInt64);
        Assert.Equal("pod-a", after["holder"].AsString);
        Assert.Equal("i2", after["incarnation"].AsString);
        Assert.Equal(Now, after["acquiredAt"].ToUniversalTime());
        Assert.Equal("e", after["_id"].AsString);
    }

    [Fact]
    public void A_lease_written_before_incarnations_existed_is_someone_elses_until_it_expires()
    {
        var stored = Lease("pod-a", "i2", 4, Now.AddSeconds(5));
        stored.Remove("incarnation");
        var (after, isHolder) = Write(stored, Me);
        Assert.False(isHolder);
        Assert.Equal(stored, after);
    }

    [Fact]
    public void Names_that_look_like_field_paths_are_stored_as_given()
    {
        var (after, isHolder) = Write(null, new LeaseClaimant("$term", "$$NOW"));
        Assert.True(isHolder);
        Assert.Equal("$term", after["holder"].AsString);
        Assert.Equal("$$NOW", after["incarnation"].AsString);
    }

    // ---- the operators the lease pipeline uses ------------------------------------------------

    private static BsonValue Evaluate(BsonValue expression, BsonDocument document)
    {
        switch (expression)
        {
            case BsonString { Value: "$$NOW" }:
                return new BsonDateTime(Now);
            case BsonString { Value: var path } when path.StartsWith("$$", StringComparison.Ordinal):
                throw new NotSupportedException($"variable {path}");
            case BsonString { Value: var path } when path.StartsWith('$'):
                return document.GetValue(path[1..], BsonUndefined.Value); // undefined stands for missing
            case BsonDocument { ElementCount: 1 } op when op.GetElement(0).Name.StartsWith('$'):
                var name = op.GetElement(0).Name;
                var args = op[0];
                return name switch
                {
                    "$literal" => args,
                    "$cond" => Truthy(Evaluate(args[0], document)) ? Evaluate(args[1], document) : Evaluate(args[2], document),
                    "$and" => args.AsBsonArray.All(a => Truthy(Evaluate(a, document))),
                    "$or" => args.AsBsonArray.Any(a => Truthy(Evaluate(a, document))),
                    "$eq" => Compare(Evaluate(args[0], document), Evaluate(args[1], document)) == 0,
                    "$gt" => Compare(Evaluate(args[0], document), Evaluate(args[1], document)) > 0,
                    "$lte" => Compare(Evaluate(args[0], document), Evaluate(args[1], document)) <= 0,
                    "$ifNull" => Evaluate(args[0], document) is var v && (v.IsBsonNull || v.IsBsonUndefined) ? Evaluate(args[1], document) : v,
                    "$add" => Add(args.AsBsonArray.Select(a => Evaluate(a, document)).ToList()),
                    _ => throw new NotSupportedException(name),
                };
            default:
                return expression;
        }
    }

    private static bool Truthy(BsonValue value) => value switch
    {
        BsonBoolean b => b.Value,
        BsonNull or BsonUndefined => false,
        _ => throw new NotSupportedException(value.ToString()),
    };

    private static BsonValue Add(List<BsonValue> values)
    {
        var date = values.OfType<BsonDateTime>().SingleOrDefault();
        var sum = values.Where(v => v.IsNumeric).Sum(v => v.ToInt64());
        return date is null ? new BsonInt64(sum) : new BsonDateTime(date.MillisecondsSinceEpoch + sum);
    }

    // BSON comparison order: missing and null, then numbers, then strings, then dates.
    private static int Rank(BsonValue value) => value switch
    {
        BsonUndefined or BsonNull => 0,
        _ when value.IsNumeric => 1,
        BsonString => 2,
        BsonDateTime => 3,
        _ => throw new NotSupportedException(value.BsonType.ToString()),
    };

    private static int Compare(BsonValue a, BsonValue b)
    {
        var rank = Rank(a).CompareTo(Rank(b));
        if (rank != 0)
        {
            return rank;
        }

        return a switch
        {
            BsonUndefined or BsonNull => 0,
            BsonString s => string.CompareOrdinal(s.Value, b.AsString),
            BsonDateTime d => d.MillisecondsSinceEpoch.CompareTo(b.AsBsonDateTime.MillisecondsSinceEpoch),
            _ => a.ToDouble().CompareTo(b.ToDouble()),
        };
    }
}
