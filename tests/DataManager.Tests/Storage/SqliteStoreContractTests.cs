using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace DataManager.Tests.Storage;

public sealed class SqliteStoreContractTests : StoreContractTests, IDisposable
{
    private readonly string _directory = ServerAvailability.TempDirectory("dm-sqlite-store");

    protected override async Task<TStore> CreateStoreAsync<TStore>() => (await NewDatabaseAsync()).GetRequiredService<TStore>();

    protected override async Task<IIncidentStore> CreateIncidentStoreAsync() => (await NewDatabaseAsync()).GetRequiredService<IIncidentStore>();

    private Task<ServiceProvider> NewDatabaseAsync() =>
        StoreServices.StartAsync(new StoreOptions { SqlitePath = Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db") });

    private static async Task<SqliteTestStore> NewStoreAsync(string path)
    {
        var store = new SqliteTestStore(path);
        await store.InitializeAsync(TestContext.Current.CancellationToken);
        return store;
    }

    protected override async Task<(DataManager.Storage.IBackfillJobStore Jobs, DataManager.Auditing.IConfirmedEmptyRanges Ranges)> CreateConfirmedEmptyRangesAsync()
    {
        var services = await NewDatabaseAsync();
        return (services.GetRequiredService<DataManager.Storage.IBackfillJobStore>(), services.GetRequiredService<DataManager.Auditing.IConfirmedEmptyRanges>());
    }

    [Fact]
    public async Task The_confirmed_empty_query_reads_the_partial_expression_index_not_the_table()
    {
        var store = await CreateStoreAsync<DataManager.Storage.Sqlite.SqliteDatabase>();
        var series = new DataManager.Candles.SeriesKey("BTCUSDT", DataManager.Candles.Timeframe.Parse("1m"));
        _ = await new SqliteConfirmedEmptyRanges(store).OverlappingAsync(series, DateTimeOffset.UnixEpoch, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store.Path}");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + SqliteConfirmedEmptyRanges.Query;
        foreach (var (name, value) in new (string, object)[] { ("$symbol", "BTCUSDT"), ("$timeframe", "1m"), ("$from", 0L), ("$to", 1L) })
        {
            command.Parameters.AddWithValue(name, value);
        }

        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.Contains(plan, step => step.Contains("USING INDEX " + SqliteConfirmedEmptyRanges.IndexName, StringComparison.Ordinal));
        Assert.DoesNotContain(plan, step => step.StartsWith("SCAN j", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Initialising_twice_and_from_parallel_instances_is_safe()
    {
        var path = Path.Combine(_directory, "shared.db");
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => new SqliteTestStore(path).InitializeAsync(TestContext.Current.CancellationToken))));
        await new SqliteTestStore(path).PingAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_file_runs_in_wal_mode()
    {
        var store = await NewStoreAsync(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"));
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store.Path}");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_lease_write_waiting_on_a_lock_is_abandoned_at_its_token_and_never_lands_later()
    {
        var store = await NewStoreAsync(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"));
        var claimant = new DataManager.Leadership.LeaseClaimant("pod-a", "first");
        await using (var blocker = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store.Path};Pooling=False"))
        {
            await blocker.OpenAsync(TestContext.Current.CancellationToken);
            await using var exclusive = blocker.CreateCommand();
            exclusive.CommandText = "BEGIN EXCLUSIVE;";
            await exclusive.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);

            using var budget = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var write = Task.Run(() => store.TryAcquireOrRenewAsync("e", claimant, TimeSpan.FromSeconds(30), budget.Token), TestContext.Current.CancellationToken);
            // The write ends, cancelled, while the lock is still held (it does not sit out the 30 s busy timeout)...
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write);

            exclusive.CommandText = "ROLLBACK;";
            await exclusive.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        // ...and nothing lands once the lock is gone.
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.Null(await store.ReadAsync("e", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_write_of_any_port_waiting_on_a_lock_is_abandoned_at_its_token_and_never_lands_later()
    {
        var store = await NewStoreAsync(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"));
        await using (await HoldAsync(store.Path, "BEGIN EXCLUSIVE;"))
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var write = store.Audits.InsertAsync([Audit("BTCUSDT", "1h", T0)], budget.Token);
            // Ended at the token while the lock is still held, not after SQLite's 30 s busy timeout...
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write);
        }

        // ...and nothing lands once the lock is gone.
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.Empty(await store.Audits.QueryAsync(new DataManager.Auditing.AuditQuery(), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_read_waiting_on_a_lock_ends_at_its_token()
    {
        var store = await NewStoreAsync(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"));
        await using (await HoldAsync(store.Path, ReadersLocked))
        {
            using var budget = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var read = store.Audits.RecentCyclesAsync(5, budget.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        }
    }

    [Fact]
    public async Task A_call_waiting_on_a_lock_returns_its_task_at_once_and_completes_once_the_lock_is_gone()
    {
        var store = await NewStoreAsync(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"));
        Task<IReadOnlyList<DataManager.Auditing.AuditCycleRecord>> read;
        await using (await HoldAsync(store.Path, ReadersLocked))
        {
            // Microsoft.Data.Sqlite alone would block right here, in the call, until its busy timeout.
            read = store.Audits.RecentCyclesAsync(5, TestContext.Current.CancellationToken);
            Assert.False(read.IsCompleted);
        }

        Assert.Empty(await read);
    }

    // Exclusive locking mode holds the file's exclusive lock, so even WAL readers wait (they cannot open a
    // snapshot). Other connections must be closed for it to be taken: the store's pooled ones are cleared first.
    private const string ReadersLocked = "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; SELECT COUNT(*) FROM audits;";

    /// <summary>Another connection holding a lock until disposed (not pooled, so closing it releases the lock).</summary>
    private static async Task<Microsoft.Data.Sqlite.SqliteConnection> HoldAsync(string path, string sql)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var blocker = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        await blocker.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = blocker.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        return blocker;
    }

    [Fact]
    public async Task A_store_file_from_before_incarnations_gets_the_column_and_its_lease_is_someone_elses()
    {
        var path = Path.Combine(_directory, "old.db");
        await using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await old.OpenAsync(TestContext.Current.CancellationToken);
            await using var create = old.CreateCommand();
            create.CommandText = """
                CREATE TABLE leader_lease (
                    name TEXT PRIMARY KEY, holder TEXT NOT NULL, term INTEGER NOT NULL,
                    acquired_at INTEGER NOT NULL, renewed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
                INSERT INTO leader_lease VALUES ('e', 'pod-a', 4, 0, 0, 32503680000000);
                """;
            await create.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var store = await NewStoreAsync(path);
        await store.InitializeAsync(TestContext.Current.CancellationToken);
        var lease = await store.ReadAsync("e", TestContext.Current.CancellationToken);
        Assert.Equal("", lease!.Incarnation);
        Assert.False((await store.TryAcquireOrRenewAsync("e", new DataManager.Leadership.LeaseClaimant("pod-a", "new"), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken)).IsHolder);
    }

    public void Dispose()
    {
        CandleDatabases.RemoveDirectory(_directory);
    }
}
