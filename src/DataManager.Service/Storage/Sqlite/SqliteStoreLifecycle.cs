using Dapper;

namespace DataManager.Storage.Sqlite;

/// <summary>
/// The embedded store as a whole: one SQLite file in WAL mode, shared safely by several local processes. Each
/// record kind has a table with the columns it is queried by and its body as JSON (times in the bodies are
/// millisecond UTC, as BSON dates hold them on MongoDB).
/// </summary>
public sealed class SqliteStoreLifecycle(SqliteDatabase database) : IStoreLifecycle
{
    private const string Schema = $"""
        CREATE TABLE IF NOT EXISTS audits (
            id TEXT PRIMARY KEY, cycle_id TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL,
            audited_at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_audits_series ON audits(symbol, timeframe, audited_at DESC);
        CREATE INDEX IF NOT EXISTS ix_audits_time ON audits(audited_at);
        CREATE TABLE IF NOT EXISTS audit_cycles (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_audit_cycles_time ON audit_cycles(started_at DESC);
        CREATE TABLE IF NOT EXISTS health_scores (
            id TEXT PRIMARY KEY, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_health_series ON health_scores(symbol, timeframe, at DESC);
        CREATE INDEX IF NOT EXISTS ix_health_time ON health_scores(at);
        CREATE TABLE IF NOT EXISTS backfill_jobs (
            id TEXT PRIMARY KEY, state TEXT NOT NULL, created_at INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_backfill_state ON backfill_jobs(state, created_at);
        {SqliteConfirmedEmptyRanges.Index}
        CREATE TABLE IF NOT EXISTS analytics_results (
            id TEXT PRIMARY KEY, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, metric TEXT NOT NULL,
            computed_at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_analytics_series ON analytics_results(symbol, timeframe, metric, computed_at DESC);
        CREATE INDEX IF NOT EXISTS ix_analytics_time ON analytics_results(computed_at);
        CREATE TABLE IF NOT EXISTS candle_archive (
            id TEXT PRIMARY KEY, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, removed_at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_archive_series ON candle_archive(symbol, timeframe, removed_at);
        CREATE TABLE IF NOT EXISTS leader_lease (
            name TEXT PRIMARY KEY, holder TEXT NOT NULL, term INTEGER NOT NULL,
            acquired_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
            incarnation TEXT NOT NULL DEFAULT '');
        CREATE TABLE IF NOT EXISTS incidents (
            id TEXT PRIMARY KEY, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL,
            opened_at INTEGER NOT NULL, resolved_at INTEGER, term INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_incidents_opened ON incidents(opened_at DESC);
        CREATE INDEX IF NOT EXISTS ix_incidents_state ON incidents(state, opened_at DESC);
        CREATE TABLE IF NOT EXISTS incident_cursor (name TEXT PRIMARY KEY, applied_through INTEGER NOT NULL, term INTEGER NOT NULL);
        """;

    public string Describe() => $"SQLite at {database.Path}";

    /// <summary>In one write transaction, so parallel starts create each table and column once.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(database.Path))!);
        await database.ExecuteOutsideTransactionAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        await database.WriteAsync(connection =>
        {
            connection.Execute(Schema);
            AddLeaseIncarnationColumn(connection);
        }, cancellationToken);
    }

    public Task PingAsync(CancellationToken cancellationToken) =>
        database.ReadAsync(connection => connection.Query<long>("SELECT 1 FROM leader_lease LIMIT 1;").Count(), cancellationToken);

    // Files created before the lease recorded the incarnation get the column.
    private static void AddLeaseIncarnationColumn(Microsoft.Data.Sqlite.SqliteConnection connection)
    {
        if (connection.ExecuteScalar<long>("SELECT COUNT(*) FROM pragma_table_info('leader_lease') WHERE name = 'incarnation';") == 0)
        {
            connection.Execute("ALTER TABLE leader_lease ADD COLUMN incarnation TEXT NOT NULL DEFAULT '';");
        }
    }
}
