using DataManager.Incidents;
using Microsoft.Data.Sqlite;

namespace DataManager.Storage.Sqlite;

/// <summary>Incidents in the embedded store's SQLite file (its own tables, created on first use). Times are Unix milliseconds.</summary>
public sealed class SqliteIncidentStore(string path) : IIncidentStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS incidents (
            id TEXT PRIMARY KEY, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL,
            opened_at INTEGER NOT NULL, resolved_at INTEGER, term INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_incidents_opened ON incidents(opened_at DESC);
        CREATE INDEX IF NOT EXISTS ix_incidents_state ON incidents(state, opened_at DESC);
        CREATE TABLE IF NOT EXISTS incident_cursor (name TEXT PRIMARY KEY, applied_through INTEGER NOT NULL, term INTEGER NOT NULL);
        """;

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    private volatile bool _schemaReady;

    public async Task<bool> TrySaveAsync(Incident incident, long expectedVersion, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        return await SaveAsync(connection, null, new IncidentWrite(incident, expectedVersion), cancellationToken);
    }

    public async Task<IReadOnlyList<bool>> TrySaveCycleAsync(IReadOnlyList<IncidentWrite> writes, DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var results = new List<bool>(writes.Count);
        foreach (var write in writes)
        {
            results.Add(await SaveAsync(connection, transaction, write, cancellationToken));
        }

        await SaveCursorAsync(connection, transaction, appliedThrough, term, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return results;
    }

    private static async Task<bool> SaveAsync(SqliteConnection connection, SqliteTransaction? transaction, IncidentWrite write, CancellationToken cancellationToken)
    {
        var (incident, expectedVersion) = (write.Incident, write.ExpectedVersion);
        var stored = incident with { Version = expectedVersion + 1 };
        var values = new (string, object?)[]
        {
            ("$id", stored.Id), ("$symbol", stored.Symbol), ("$tf", stored.Timeframe), ("$state", Name(stored.State)), ("$severity", Name(stored.Severity)),
            ("$opened", Ms(stored.OpenedAt)), ("$resolved", stored.ResolvedAt is { } r ? Ms(r) : null), ("$term", stored.Term),
            ("$version", stored.Version), ("$expected", expectedVersion), ("$body", StoreJson.SerializeStored(stored)),
        };
        var sql = expectedVersion == 0
            ? """
              INSERT INTO incidents(id, symbol, timeframe, state, severity, opened_at, resolved_at, term, version, body)
              VALUES ($id, $symbol, $tf, $state, $severity, $opened, $resolved, $term, $version, $body) ON CONFLICT(id) DO NOTHING;
              """
            : """
              UPDATE incidents SET state = $state, severity = $severity, resolved_at = $resolved, term = $term, version = $version, body = $body
              WHERE id = $id AND version = $expected AND term <= $term;
              """;
        return await ExecuteAsync(connection, transaction, sql, cancellationToken, values) == 1;
    }

    public async Task<Incident?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var found = await QueryBodiesAsync("SELECT body FROM incidents WHERE id = $id;", cancellationToken, ("$id", id));
        return found.Count > 0 ? found[0] : null;
    }

    public Task<IReadOnlyList<Incident>> OpenAsync(CancellationToken cancellationToken) =>
        QueryBodiesAsync("SELECT body FROM incidents WHERE state = 'open' ORDER BY opened_at, id;", cancellationToken);

    public Task<IReadOnlyList<Incident>> QueryAsync(IncidentQuery query, CancellationToken cancellationToken) =>
        QueryBodiesAsync(
            """
            SELECT body FROM incidents
            WHERE ($state IS NULL OR state = $state) AND ($symbol IS NULL OR symbol = $symbol) AND ($tf IS NULL OR timeframe = $tf)
              AND ($severity IS NULL OR severity = $severity) AND ($from IS NULL OR opened_at >= $from) AND ($to IS NULL OR opened_at < $to)
            ORDER BY opened_at DESC, id LIMIT $limit OFFSET $skip;
            """,
            cancellationToken,
            ("$state", query.State is { } s ? Name(s) : null), ("$symbol", query.Symbol), ("$tf", query.Timeframe),
            ("$severity", query.Severity is { } v ? Name(v) : null), ("$from", query.From is { } f ? Ms(f) : null), ("$to", query.To is { } t ? Ms(t) : null),
            ("$limit", query.Limit), ("$skip", query.Skip));

    public async Task<DateTimeOffset?> ReadCursorAsync(CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        await using var command = Command(connection, "SELECT applied_through FROM incident_cursor WHERE name = 'audits';");
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    public async Task SaveCursorAsync(DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        await SaveCursorAsync(connection, null, appliedThrough, term, cancellationToken);
    }

    private static Task<int> SaveCursorAsync(SqliteConnection connection, SqliteTransaction? transaction, DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction,
            """
            INSERT INTO incident_cursor(name, applied_through, term) VALUES ('audits', $at, $term)
            ON CONFLICT(name) DO UPDATE SET applied_through = excluded.applied_through, term = excluded.term
            WHERE excluded.applied_through > incident_cursor.applied_through;
            """,
            cancellationToken, ("$at", Ms(appliedThrough)), ("$term", term));

    public async Task<long> PruneResolvedAsync(DateTimeOffset resolvedBefore, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        return await ExecuteAsync(connection, "DELETE FROM incidents WHERE state = 'resolved' AND resolved_at < $t;", cancellationToken, ("$t", Ms(resolvedBefore)));
    }

    private async Task<IReadOnlyList<Incident>> QueryBodiesAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var results = new List<Incident>();
        while (await reader.ReadAsync(cancellationToken))
        {
            results.Add(StoreJson.Deserialize<Incident>(reader.GetString(0)));
        }

        return results;
    }

    private async Task<SqliteConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA synchronous=NORMAL;", cancellationToken);
        if (!_schemaReady)
        {
            // Idempotent, so two first calls racing is harmless.
            await ExecuteAsync(connection, Schema, cancellationToken);
            _schemaReady = true;
        }

        return connection;
    }

    private static Task<int> ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        ExecuteAsync(connection, null, sql, cancellationToken, parameters);

    private static async Task<int> ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        command.Transaction = transaction;
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToLowerInvariant();

    private static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();
}
