using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Bson.Serialization.Conventions;
using MongoDB.Bson.Serialization.Serializers;

namespace DataManager.Storage.Mongo;

/// <summary>
/// How records map to BSON: camelCase names, enums as strings, decimals as Decimal128 (exact prices),
/// times as BSON dates (UTC, millisecond precision). Registered once per process.
/// </summary>
public static class MongoMapping
{
    private static readonly Lock Gate = new();
    private static bool _registered;

    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (_registered)
            {
                return;
            }

            var conventions = new ConventionPack
            {
                new CamelCaseElementNameConvention(),
                new IgnoreExtraElementsConvention(true),
                new EnumRepresentationConvention(BsonType.String),
            };
            ConventionRegistry.Register("DataManager", conventions, t => t.Namespace?.StartsWith("DataManager", StringComparison.Ordinal) == true);

            BsonSerializer.TryRegisterSerializer(new DecimalSerializer(BsonType.Decimal128));
            BsonSerializer.TryRegisterSerializer(new NullableSerializer<decimal>(new DecimalSerializer(BsonType.Decimal128)));
            BsonSerializer.TryRegisterSerializer(new DateTimeOffsetSerializer(BsonType.DateTime));
            BsonSerializer.TryRegisterSerializer(new NullableSerializer<DateTimeOffset>(new DateTimeOffsetSerializer(BsonType.DateTime)));
            BsonSerializer.TryRegisterSerializer(new DateTimeSerializer(DateTimeKind.Utc));

            MapWithId<AuditRecord>(r => r.Id);
            MapWithId<AuditCycleRecord>(r => r.Id);
            MapWithId<HealthScoreRecord>(r => r.Id);
            MapWithId<BackfillJob>(r => r.Id);
            MapWithId<AnalyticsResult>(r => r.Id);
            MapWithId<ArchivedCandle>(r => r.Id);
            BsonClassMap.TryRegisterClassMap<LeaseRecord>(map =>
            {
                map.AutoMap();
                map.MapIdMember(r => r.Name);
                // Records written before the incarnation existed read as "no incarnation", never null.
                map.GetMemberMap(r => r.Incarnation).SetDefaultValue("");
            });
            _registered = true;
        }
    }

    private static void MapWithId<T>(System.Linq.Expressions.Expression<Func<T, string>> id) =>
        BsonClassMap.TryRegisterClassMap<T>(map =>
        {
            map.AutoMap();
            map.MapIdMember(id);
        });
}
