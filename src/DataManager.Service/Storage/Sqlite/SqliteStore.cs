using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Leadership;
using Microsoft.Data.Sqlite;

namespace DataManager.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode, shared safely by several local processes. Each record
/// kind has a table with the columns it is queried by and its body as JSON. Times are Unix milliseconds in
/// the columns and millisecond UTC in the bodies, as BSON dates hold them on MongoDB. Batch inserts are one
/// transaction each and idempotent: a record whose id is stored is skipped (the first write stays, as on MongoDB).
/// </summary>
public sealed class SqliteStore(string path) : IAuditStore, IHealthScoreStore, IBackfillJobStore, IAnalyticsStore, ICandleArchiveStore, ILeaseStore, IStoreLifecycle
{
    // SQLite's own clock in Unix milliseconds; 'now' is fixed within one statement.
    private const string NowMs = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    public string Path { get; } = path;

    public string Describe() => $"SQLite at {Path}";

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL;", cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, Schema, cancellationToken, transaction);
        await AddLeaseIncarnationColumnAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "SELECT 1 FROM leader_lease LIMIT 1;", cancellationToken);
    }

    private const string Schema = """
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
        """;

    // Files created before the lease recorded the incarnation get the column (inside the IMMEDIATE
    // initialisation transaction, so parallel starts add it once).
    private static async Task AddLeaseIncarnationColumnAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        await using var probe = Command(connection, "SELECT COUNT(*) FROM pragma_table_info('leader_lease') WHERE name = 'incarnation';", transaction);
        if (Convert.ToInt64(await probe.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            await ExecuteAsync(connection, "ALTER TABLE leader_lease ADD COLUMN incarnation TEXT NOT NULL DEFAULT '';", cancellationToken, transaction);
        }
    }

    // ---- audits -------------------------------------------------------------------------------

    public async Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var record in records)
        {
            await ExecuteAsync(connection,
                "INSERT INTO audits(id, cycle_id, symbol, timeframe, audited_at, body) VALUES ($id, $cycle, $symbol, $tf, $at, $body) ON CONFLICT(id) DO NOTHING;",
                cancellationToken, transaction,
                ("$id", record.Id), ("$cycle", record.CycleId), ("$symbol", record.Symbol), ("$tf", record.Timeframe),
                ("$at", Ms(record.AuditedAt)), ("$body", StoreJson.SerializeStored(record)));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
        QueryBodiesAsync<AuditRecord>(
            """
            SELECT body FROM audits
            WHERE ($symbol IS NULL OR symbol = $symbol) AND ($tf IS NULL OR timeframe = $tf)
              AND ($from IS NULL OR audited_at >= $from) AND ($to IS NULL OR audited_at < $to)
            ORDER BY audited_at DESC, id LIMIT $limit OFFSET $skip;
            """,
            cancellationToken,
            ("$symbol", query.Symbol), ("$tf", query.Timeframe), ("$from", Ms(query.From)), ("$to", Ms(query.To)),
            ("$limit", query.Limit), ("$skip", query.Skip));

    public Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken) =>
        QueryBodiesAsync<AuditRecord>(
            """
            SELECT body FROM (
                SELECT body, symbol, timeframe,
                       ROW_NUMBER() OVER (PARTITION BY symbol, timeframe ORDER BY audited_at DESC, id) AS n
                FROM audits)
            WHERE n = 1 ORDER BY symbol, timeframe;
            """,
            cancellationToken);

    public async Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection,
            "INSERT OR REPLACE INTO audit_cycles(id, started_at, body) VALUES ($id, $at, $body);",
            cancellationToken, null, ("$id", cycle.Id), ("$at", Ms(cycle.StartedAt)), ("$body", StoreJson.SerializeStored(cycle)));
    }

    public Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken) =>
        QueryBodiesAsync<AuditCycleRecord>("SELECT body FROM audit_cycles ORDER BY started_at DESC, id DESC LIMIT $limit;", cancellationToken, ("$limit", limit));

    async Task<long> IAuditStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        await DeleteAsync("DELETE FROM audits WHERE audited_at < $t;", olderThan, cancellationToken)
        + await DeleteAsync("DELETE FROM audit_cycles WHERE started_at < $t;", olderThan, cancellationToken);

    // ---- health scores ------------------------------------------------------------------------

    public async Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var score in scores)
        {
            await ExecuteAsync(connection,
                "INSERT INTO health_scores(id, symbol, timeframe, at, body) VALUES ($id, $symbol, $tf, $at, $body) ON CONFLICT(id) DO NOTHING;",
                cancellationToken, transaction,
                ("$id", score.Id), ("$symbol", score.Symbol), ("$tf", score.Timeframe), ("$at", Ms(score.At)), ("$body", StoreJson.SerializeStored(score)));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        QueryBodiesAsync<HealthScoreRecord>(
            """
            SELECT body FROM health_scores
            WHERE symbol = $symbol AND timeframe = $tf AND ($from IS NULL OR at >= $from) AND ($to IS NULL OR at < $to)
            ORDER BY at DESC, id LIMIT $limit;
            """,
            cancellationToken, ("$symbol", symbol), ("$tf", timeframe), ("$from", Ms(from)), ("$to", Ms(to)), ("$limit", limit));

    Task<long> IHealthScoreStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        DeleteAsync("DELETE FROM health_scores WHERE at < $t;", olderThan, cancellationToken);

    // ---- backfill jobs ------------------------------------------------------------------------

    public async Task CreateAsync(BackfillJob job, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection,
            "INSERT INTO backfill_jobs(id, state, created_at, version, body) VALUES ($id, $state, $at, $version, $body);",
            cancellationToken, null,
            ("$id", job.Id), ("$state", StateName(job.State)), ("$at", Ms(job.CreatedAt)), ("$version", job.Version), ("$body", StoreJson.SerializeStored(job)));
    }

    public async Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) =>
        First(await QueryBodiesAsync<BackfillJob>("SELECT body FROM backfill_jobs WHERE id = $id;", cancellationToken, ("$id", id)));

    public Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) =>
        QueryBodiesAsync<BackfillJob>(
            "SELECT body FROM backfill_jobs WHERE ($state IS NULL OR state = $state) ORDER BY created_at, id LIMIT $limit;",
            cancellationToken, ("$state", state is null ? null : StateName(state.Value)), ("$limit", limit));

    public Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
        QueryBodiesAsync<BackfillJob>(
            """
            SELECT body FROM backfill_jobs
            WHERE ($state IS NULL OR state = $state) AND ($at IS NULL OR created_at < $at OR (created_at = $at AND id < $id))
            ORDER BY created_at DESC, id DESC LIMIT $limit;
            """,
            cancellationToken, ("$state", state is null ? null : StateName(state.Value)), ("$at", after is null ? null : Ms(after.CreatedAt)),
            ("$id", after?.Id), ("$limit", limit));

    public async Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken)
    {
        var stored = job with { Version = expectedVersion + 1 };
        await using var connection = await OpenAsync(cancellationToken);
        var changed = await ExecuteAsync(connection,
            "UPDATE backfill_jobs SET state = $state, version = $version, body = $body WHERE id = $id AND version = $expected;",
            cancellationToken, null,
            ("$id", job.Id), ("$state", StateName(job.State)), ("$version", stored.Version), ("$body", StoreJson.SerializeStored(stored)), ("$expected", expectedVersion));
        return changed == 1;
    }

    private static readonly string EndedStatesSql = string.Join(", ", BackfillJobStates.Ended.Select(s => $"'{StateName(s)}'"));

    public Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) =>
        DeleteAsync($"DELETE FROM backfill_jobs WHERE created_at < $t AND state IN ({EndedStatesSql});", createdBefore, cancellationToken);

    public async Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, "SELECT state, COUNT(*) FROM backfill_jobs GROUP BY state;", null);
        var counts = new Dictionary<BackfillJobState, long>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[Enum.Parse<BackfillJobState>(reader.GetString(0), ignoreCase: true)] = reader.GetInt64(1);
        }

        return counts;
    }

    private static string StateName(BackfillJobState state) => state.ToString().ToLowerInvariant();

    // ---- analytics ----------------------------------------------------------------------------

    public async Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var result in results)
        {
            await ExecuteAsync(connection,
                "INSERT INTO analytics_results(id, symbol, timeframe, metric, computed_at, body) VALUES ($id, $symbol, $tf, $metric, $at, $body) ON CONFLICT(id) DO NOTHING;",
                cancellationToken, transaction,
                ("$id", result.Id), ("$symbol", result.Symbol), ("$tf", result.Timeframe), ("$metric", result.Metric),
                ("$at", Ms(result.ComputedAt)), ("$body", StoreJson.SerializeStored(result)));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken) =>
        QueryBodiesAsync<AnalyticsResult>(
            """
            SELECT body FROM (
                SELECT body, metric, ROW_NUMBER() OVER (PARTITION BY metric ORDER BY computed_at DESC, id) AS n
                FROM analytics_results WHERE symbol = $symbol AND timeframe = $tf)
            WHERE n = 1 ORDER BY metric;
            """,
            cancellationToken, ("$symbol", symbol), ("$tf", timeframe));

    public Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        QueryBodiesAsync<AnalyticsResult>(
            """
            SELECT body FROM analytics_results
            WHERE symbol = $symbol AND timeframe = $tf AND metric = $metric
              AND ($from IS NULL OR computed_at >= $from) AND ($to IS NULL OR computed_at < $to)
            ORDER BY computed_at DESC, id LIMIT $limit;
            """,
            cancellationToken, ("$symbol", symbol), ("$tf", timeframe), ("$metric", metric), ("$from", Ms(from)), ("$to", Ms(to)), ("$limit", limit));

    Task<long> IAnalyticsStore.PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        DeleteAsync("DELETE FROM analytics_results WHERE computed_at < $t;", olderThan, cancellationToken);

    // ---- candle archive -----------------------------------------------------------------------

    public async Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var row in rows)
        {
            await ExecuteAsync(connection,
                "INSERT INTO candle_archive(id, symbol, timeframe, removed_at, body) VALUES ($id, $symbol, $tf, $at, $body) ON CONFLICT(id) DO NOTHING;",
                cancellationToken, transaction,
                ("$id", row.Id), ("$symbol", row.Row.Symbol), ("$tf", row.Timeframe), ("$at", Ms(row.RemovedAt)), ("$body", StoreJson.SerializeStored(row)));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken) =>
        QueryBodiesAsync<ArchivedCandle>(
            "SELECT body FROM candle_archive WHERE symbol = $symbol AND timeframe = $tf ORDER BY removed_at, id;",
            cancellationToken, ("$symbol", symbol), ("$tf", timeframe));

    // ---- leader lease -------------------------------------------------------------------------

    public async Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, LeaseClaimant claimant, TimeSpan duration, CancellationToken cancellationToken)
    {
        // One statement: insert the first record, renew if held by this holder and incarnation and unexpired
        // (term kept), or take over an expired or released lease (term + 1). A lease held by anyone else,
        // this pod's earlier incarnation included, is left untouched until it expires.
        const string heldByMe = $"leader_lease.holder = excluded.holder AND leader_lease.incarnation = excluded.incarnation AND leader_lease.expires_at > {NowMs}";
        const string sql = $"""
            INSERT INTO leader_lease(name, holder, incarnation, term, acquired_at, renewed_at, expires_at)
            VALUES ($name, $holder, $incarnation, 1, {NowMs}, {NowMs}, {NowMs} + $duration)
            ON CONFLICT(name) DO UPDATE SET
                term = CASE WHEN {heldByMe} THEN leader_lease.term ELSE leader_lease.term + 1 END,
                acquired_at = CASE WHEN {heldByMe} THEN leader_lease.acquired_at ELSE {NowMs} END,
                holder = excluded.holder,
                incarnation = excluded.incarnation,
                renewed_at = {NowMs},
                expires_at = {NowMs} + $duration
            WHERE ({heldByMe}) OR leader_lease.expires_at <= {NowMs}
            RETURNING {LeaseColumns};
            """;
        await using var connection = await OpenAsync(cancellationToken);
        return await WriteLockedAsync(connection, async () =>
        {
            await using (var command = Command(connection, sql, null,
                ("$name", name), ("$holder", claimant.Holder), ("$incarnation", claimant.Incarnation), ("$duration", (long)duration.TotalMilliseconds)))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    return new LeaseAttempt(true, ReadLease(reader));
                }
            }

            return new LeaseAttempt(false, await ReadAsync(connection, name, cancellationToken));
        }, cancellationToken);
    }

    public async Task ReleaseAsync(string name, LeaseClaimant claimant, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await WriteLockedAsync(connection, () => ExecuteAsync(connection,
            $"UPDATE leader_lease SET expires_at = {NowMs} WHERE name = $name AND holder = $holder AND incarnation = $incarnation AND expires_at > {NowMs};",
            cancellationToken, null, ("$name", name), ("$holder", claimant.Holder), ("$incarnation", claimant.Incarnation)), cancellationToken);
    }

    public async Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadAsync(connection, name, cancellationToken);
    }

    private const string LeaseColumns = "name, holder, term, acquired_at, renewed_at, expires_at, incarnation";

    private static async Task<LeaseRecord?> ReadAsync(SqliteConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, $"SELECT {LeaseColumns} FROM leader_lease WHERE name = $name;", null, ("$name", name));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadLease(reader) : null;
    }

    private static LeaseRecord ReadLease(SqliteDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetInt64(2),
        FromMs(reader.GetInt64(3)), FromMs(reader.GetInt64(4)), FromMs(reader.GetInt64(5)), reader.GetString(6));

    /// <summary>
    /// Runs a lease write so that it commits only while <paramref name="cancellationToken"/> is not cancelled.
    /// Microsoft.Data.Sqlite waits on a locked database in a loop that never looks at the token (up to the
    /// 30 s busy timeout), so a lease write abandoned at its budget could still land seconds later. Here the
    /// write lock is taken with BEGIN IMMEDIATE polled by hand (the token is checked between tries), and the
    /// token is checked again before COMMIT: a cancelled write is rolled back, never committed late.
    /// </summary>
    private static async Task<T> WriteLockedAsync<T>(SqliteConnection connection, Func<Task<T>> write, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rc = SQLitePCL.raw.sqlite3_exec(connection.Handle, "BEGIN IMMEDIATE;");
            if (rc == SQLitePCL.raw.SQLITE_OK)
            {
                break;
            }

            if ((rc & 0xFF) is not (SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED))
            {
                SqliteException.ThrowExceptionForRC(rc, connection.Handle);
            }

            await Task.Delay(LockPollInterval, cancellationToken);
        }

        try
        {
            var result = await write();
            cancellationToken.ThrowIfCancellationRequested();
            SqliteException.ThrowExceptionForRC(SQLitePCL.raw.sqlite3_exec(connection.Handle, "COMMIT;"), connection.Handle);
            return result;
        }
        catch
        {
            _ = SQLitePCL.raw.sqlite3_exec(connection.Handle, "ROLLBACK;");
            throw;
        }
    }

    private static readonly TimeSpan LockPollInterval = TimeSpan.FromMilliseconds(10);

    // ---- plumbing -----------------------------------------------------------------------------

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        // WAL with synchronous=NORMAL: no fsync per commit; safe across process crashes, only the last commits
        // can be lost on power loss (the lease then simply expires). A per-connection setting.
        await ExecuteAsync(connection, "PRAGMA synchronous=NORMAL;", cancellationToken);
        return connection;
    }

    private async Task<IReadOnlyList<T>> QueryBodiesAsync<T>(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, sql, null, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var results = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            results.Add(StoreJson.Deserialize<T>(reader.GetString(0)));
        }

        return results;
    }

    private async Task<long> DeleteAsync(string sql, DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, sql, cancellationToken, null, ("$t", Ms(olderThan)));
    }

    private static async Task<int> ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? transaction = null, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, transaction, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, SqliteTransaction? transaction, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static T? First<T>(IReadOnlyList<T> items)
        where T : class => items.Count > 0 ? items[0] : null;

    private static long? Ms(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

}
