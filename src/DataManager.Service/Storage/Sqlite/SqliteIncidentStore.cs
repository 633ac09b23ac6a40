using DataManager.Incidents;
using Dapper;
using Microsoft.Data.Sqlite;
using static DataManager.Storage.Sqlite.SqliteDatabase;

namespace DataManager.Storage.Sqlite;

/// <summary>Incidents, and how far the leader has read the audit history into them, in the embedded store.</summary>
public sealed class SqliteIncidentStore(SqliteDatabase database) : IIncidentStore
{
    public Task<bool> TrySaveAsync(Incident incident, long expectedVersion, CancellationToken cancellationToken) =>
        database.WriteAsync(connection => Save(connection, new IncidentWrite(incident, expectedVersion)), cancellationToken);

    public Task<IReadOnlyList<bool>> TrySaveCycleAsync(IReadOnlyList<IncidentWrite> writes, DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken) =>
        database.WriteAsync<IReadOnlyList<bool>>(connection =>
        {
            var results = writes.Select(write => Save(connection, write)).ToList();
            SaveCursor(connection, appliedThrough, term);
            return results;
        }, cancellationToken);

    private static bool Save(SqliteConnection connection, IncidentWrite write)
    {
        var (incident, expectedVersion) = (write.Incident, write.ExpectedVersion);
        var stored = incident with { Version = expectedVersion + 1 };
        var sql = expectedVersion == 0
            ? """
              INSERT INTO incidents(id, symbol, timeframe, state, severity, opened_at, resolved_at, term, version, body)
              VALUES (@Id, @Symbol, @Timeframe, @State, @Severity, @OpenedAt, @ResolvedAt, @Term, @Version, @Body) ON CONFLICT(id) DO NOTHING;
              """
            : """
              UPDATE incidents SET state = @State, severity = @Severity, resolved_at = @ResolvedAt, term = @Term, version = @Version, body = @Body
              WHERE id = @Id AND version = @Expected AND term <= @Term;
              """;
        return connection.Execute(sql, new
        {
            stored.Id, stored.Symbol, stored.Timeframe, State = Name(stored.State), Severity = Name(stored.Severity),
            OpenedAt = Ms(stored.OpenedAt), ResolvedAt = Ms(stored.ResolvedAt), stored.Term, stored.Version, Expected = expectedVersion,
            Body = StoreJson.SerializeStored(stored),
        }) == 1;
    }

    public Task<Incident?> GetAsync(string id, CancellationToken cancellationToken) =>
        database.QueryBodyAsync<Incident>("SELECT body FROM incidents WHERE id = @Id;", new { Id = id }, cancellationToken);

    public Task<IReadOnlyList<Incident>> OpenAsync(CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<Incident>("SELECT body FROM incidents WHERE state = 'open' ORDER BY opened_at, id;", null, cancellationToken);

    public Task<IReadOnlyList<Incident>> QueryAsync(IncidentQuery query, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<Incident>(
            """
            SELECT body FROM incidents
            WHERE (@State IS NULL OR state = @State) AND (@Symbol IS NULL OR symbol = @Symbol) AND (@Timeframe IS NULL OR timeframe = @Timeframe)
              AND (@Severity IS NULL OR severity = @Severity) AND (@From IS NULL OR opened_at >= @From) AND (@To IS NULL OR opened_at < @To)
            ORDER BY opened_at DESC, id LIMIT @Limit OFFSET @Skip;
            """,
            new
            {
                State = Name(query.State), query.Symbol, query.Timeframe, Severity = Name(query.Severity),
                From = Ms(query.From), To = Ms(query.To), query.Limit, query.Skip,
            },
            cancellationToken);

    public Task<DateTimeOffset?> ReadCursorAsync(CancellationToken cancellationToken) =>
        database.ReadAsync(
            connection => connection.ExecuteScalar<long?>("SELECT applied_through FROM incident_cursor WHERE name = 'audits';") is { } ms ? FromMs(ms) : (DateTimeOffset?)null,
            cancellationToken);

    public Task SaveCursorAsync(DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken) =>
        database.WriteAsync(connection => SaveCursor(connection, appliedThrough, term), cancellationToken);

    private static void SaveCursor(SqliteConnection connection, DateTimeOffset appliedThrough, long term) =>
        connection.Execute(
            """
            INSERT INTO incident_cursor(name, applied_through, term) VALUES ('audits', @At, @Term)
            ON CONFLICT(name) DO UPDATE SET applied_through = excluded.applied_through, term = excluded.term
            WHERE excluded.applied_through > incident_cursor.applied_through;
            """,
            new { At = Ms(appliedThrough), Term = term });

    public Task<long> PruneResolvedAsync(DateTimeOffset resolvedBefore, CancellationToken cancellationToken) =>
        database.ExecuteAsync("DELETE FROM incidents WHERE state = 'resolved' AND resolved_at < @T;", new { T = Ms(resolvedBefore) }, cancellationToken);

    private static string? Name(Enum? value) => value?.ToString().ToLowerInvariant();
}
