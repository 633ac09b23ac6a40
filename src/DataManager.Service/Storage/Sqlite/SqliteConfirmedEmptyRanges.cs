using DataManager.Auditing;
using DataManager.Candles;

namespace DataManager.Storage.Sqlite;

/// <summary>
/// Confirmed-empty ranges from the completed backfill jobs in the embedded store's file. The job's series lives in
/// its JSON body, so the index is on those expressions, partial on completed jobs; it is created with the schema. Every
/// call goes through <see cref="SqliteDatabase"/> like the other ports, so a locked file never holds a thread.
/// </summary>
public sealed class SqliteConfirmedEmptyRanges(SqliteDatabase database) : IConfirmedEmptyRanges
{
    public const string IndexName = "ix_backfill_confirmed_empty";

    /// <summary>Part of the store's schema (<see cref="SqliteStoreLifecycle"/>).</summary>
    public const string Index = $"""
        CREATE INDEX IF NOT EXISTS {IndexName}
        ON backfill_jobs(json_extract(body, '$.symbol'), json_extract(body, '$.timeframe')) WHERE state = 'completed';
        """;

    // The query repeats the index's expressions and its WHERE literally: SQLite uses an expression index or a
    // partial index only for terms written the same way. Range times compare as Unix milliseconds, not as text.
    public const string Query = """
        SELECT json_extract(r.value, '$.from'), json_extract(r.value, '$.to')
        FROM backfill_jobs AS j, json_each(j.body, '$.confirmedEmpty') AS r
        WHERE j.state = 'completed'
          AND json_extract(j.body, '$.symbol') = $symbol AND json_extract(j.body, '$.timeframe') = $timeframe
          AND CAST(ROUND((julianday(json_extract(r.value, '$.from')) - 2440587.5) * 86400000.0) AS INTEGER) < $to
          AND CAST(ROUND((julianday(json_extract(r.value, '$.to')) - 2440587.5) * 86400000.0) AS INTEGER) > $from;
        """;

    public Task<IReadOnlyList<EmptyRange>> OverlappingAsync(SeriesKey series, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyList<EmptyRange>>(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = Query;
            command.Parameters.AddWithValue("$symbol", series.Symbol);
            command.Parameters.AddWithValue("$timeframe", series.Timeframe.Name);
            command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
            using var reader = command.ExecuteReader();
            var ranges = new List<EmptyRange>();
            while (reader.Read())
            {
                ranges.Add(new EmptyRange(Time(reader.GetString(0)), Time(reader.GetString(1))));
            }

            return [.. ranges.OrderBy(r => r.From).ThenBy(r => r.To)];
        }, cancellationToken);

    private static DateTimeOffset Time(string stored) =>
        DateTimeOffset.Parse(stored, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal).ToUniversalTime();
}
