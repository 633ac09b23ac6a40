using System.Text.Json;
using System.Text.Json.Serialization;

namespace DataManager.Storage;

/// <summary>JSON for record bodies kept as text (SQLite) and for API answers: camelCase, enums as strings, decimals exact.</summary>
public static class StoreJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower), new UtcDateTimeOffsetConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>
    /// Record bodies as a store keeps them: times truncated to whole milliseconds in UTC, the precision and
    /// form a BSON date has, so a record reads back the same from SQLite as from MongoDB.
    /// </summary>
    public static string SerializeStored<T>(T value) => JsonSerializer.Serialize(value, StoredOptions);

    private static JsonSerializerOptions StoredOptions { get; } = WithConverterFirst(new MillisecondUtcDateTimeOffsetConverter());

    // The first converter that handles a type wins, so this one goes before the API's time converter.
    private static JsonSerializerOptions WithConverterFirst(JsonConverter converter)
    {
        var options = new JsonSerializerOptions(Options);
        options.Converters.Insert(0, converter);
        return options;
    }

    /// <summary>Truncates toward the past, as the Mongo driver does when it writes a BSON date.</summary>
    public static DateTimeOffset ToStoredPrecision(DateTimeOffset value) =>
        DateTimeOffset.FromUnixTimeMilliseconds(value.ToUnixTimeMilliseconds());

    private sealed class MillisecondUtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetDateTimeOffset().ToUniversalTime();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(ToStoredPrecision(value).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFF'Z'", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Times are written in UTC with a Z (<c>2026-11-22T10:15:00Z</c>), fractions only when present.</summary>
    private sealed class UtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetDateTimeOffset().ToUniversalTime();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture));
    }

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new InvalidDataException($"Stored {typeof(T).Name} is null.");
}
