using Dapper;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DataManager.Storage.Sqlite;

/// <summary>
/// The embedded store's file and the one way its stores reach it: every call is a unit of work on a pooled
/// connection, a read or a write transaction. Times are Unix milliseconds in the columns.
/// <para>
/// Microsoft.Data.Sqlite's async methods run synchronously, and on a locked database it retries in a loop
/// that sleeps its thread and never looks at the token, up to the busy timeout. So a unit runs off its
/// caller's thread (the caller gets its task back at once, and a budget it puts on the task holds), and takes
/// its lock here, polled by hand: a try that finds the database busy returns at once, and the wait between
/// tries is an async delay that ends at the token. Once the lock is held (WAL: a read snapshot, or the write
/// lock) the statements do not wait on other connections. A write is committed only if its token is still
/// live, so a write abandoned at its caller's budget never lands later.
/// </para>
/// <para>
/// One wait stays inside SQLite: when another process holds the WAL index's own locks (the -shm file), SQLite
/// retries for about 10 s in the call and then fails with "locking protocol"; that holds a pool thread.
/// </para>
/// </summary>
public sealed class SqliteDatabase(string path)
{
    /// <summary>How long a unit waits for its lock before it fails with SQLite's "database is locked".</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromMilliseconds(100);

    // Per connection: WAL with synchronous=NORMAL has no fsync per commit; safe across process crashes, only the
    // last commits can be lost on power loss (the lease then simply expires).
    private const string ConnectionSetup = "PRAGMA synchronous=NORMAL;";

    // A deferred transaction takes its read snapshot at its first read, so read one page here, under the poll.
    private const string BeginRead = ConnectionSetup + "BEGIN; SELECT COUNT(*) FROM sqlite_schema;";
    private const string BeginWrite = ConnectionSetup + "BEGIN IMMEDIATE;";

    // Waits on other connections' locks are wall-clock waits, never a test's fake time (a fake clock that is not
    // advanced would stall every contended write).
    private static readonly TimeProvider Clock = TimeProvider.System;

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = (int)BusyTimeout.TotalSeconds,
    }.ToString();

    public string Path { get; } = path;

    /// <summary>Runs <paramref name="read"/> on one read snapshot.</summary>
    public Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken) =>
        RunAsync(BeginRead, read, commit: false, cancellationToken);

    /// <summary>Runs <paramref name="write"/> in one write transaction, committed only while <paramref name="cancellationToken"/> is live.</summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, T> write, CancellationToken cancellationToken) =>
        RunAsync(BeginWrite, write, commit: true, cancellationToken);

    /// <summary>Runs <paramref name="write"/> in one write transaction, committed only while <paramref name="cancellationToken"/> is live.</summary>
    public Task WriteAsync(Action<SqliteConnection> write, CancellationToken cancellationToken) =>
        RunAsync(BeginWrite, connection =>
        {
            write(connection);
            return true;
        }, commit: true, cancellationToken);

    /// <summary>Runs one statement that must not be in a transaction (journal mode), polled for its lock like a unit.</summary>
    public async Task ExecuteOutsideTransactionAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        await LockAsync(connection, sql, cancellationToken);
    }

    private Task<T> RunAsync<T>(string begin, Func<SqliteConnection, T> work, bool commit, CancellationToken cancellationToken) =>
        Task.Run(() => RunHereAsync(begin, work, commit, cancellationToken), cancellationToken);

    private async Task<T> RunHereAsync<T>(string begin, Func<SqliteConnection, T> work, bool commit, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        await LockAsync(connection, begin, cancellationToken);
        try
        {
            var result = work(connection);
            if (commit)
            {
                cancellationToken.ThrowIfCancellationRequested();
                SqliteException.ThrowExceptionForRC(raw.sqlite3_exec(connection.Handle, "COMMIT;"), connection.Handle);
            }

            return result;
        }
        finally
        {
            // A pooled connection must never go back with a transaction open: it would hold its lock.
            EndTransaction(connection);
        }
    }

    private static async Task LockAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        var started = Clock.GetTimestamp();
        var retry = FirstRetry;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rc = raw.sqlite3_exec(connection.Handle, sql);
            if (rc == raw.SQLITE_OK)
            {
                return;
            }

            EndTransaction(connection);
            if ((rc & 0xFF) is not (raw.SQLITE_BUSY or raw.SQLITE_LOCKED) || Clock.GetElapsedTime(started) >= BusyTimeout)
            {
                SqliteException.ThrowExceptionForRC(rc, connection.Handle);
            }

            await Task.Delay(retry, Clock, cancellationToken);
            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LongestRetry.Ticks));
        }
    }

    private static void EndTransaction(SqliteConnection connection)
    {
        if (raw.sqlite3_get_autocommit(connection.Handle) == 0)
        {
            _ = raw.sqlite3_exec(connection.Handle, "ROLLBACK;");
        }
    }

    /// <summary>The JSON bodies a query selects (its one column), in its order.</summary>
    public Task<IReadOnlyList<T>> QueryBodiesAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<T>>(connection => [.. connection.Query<string>(sql, parameters).Select(StoreJson.Deserialize<T>)], cancellationToken);

    /// <summary>The JSON body a query selects by its key, if there is one.</summary>
    public Task<T?> QueryBodyAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
        where T : class =>
        ReadAsync(connection => connection.QuerySingleOrDefault<string>(sql, parameters) is { } body ? StoreJson.Deserialize<T>(body) : null, cancellationToken);

    /// <summary>Runs <paramref name="sql"/> once per row, all in one transaction; idempotent inserts say ON CONFLICT(id) DO NOTHING.</summary>
    public Task InsertAsync<TRow>(string sql, IEnumerable<TRow> rows, CancellationToken cancellationToken) =>
        WriteAsync(connection => connection.Execute(sql, rows), cancellationToken);

    /// <summary>Runs one DELETE or UPDATE; the rows it changed.</summary>
    public Task<long> ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken) =>
        WriteAsync<long>(connection => connection.Execute(sql, parameters), cancellationToken);

    /// <summary>A time as stored in the columns.</summary>
    public static long? Ms(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
