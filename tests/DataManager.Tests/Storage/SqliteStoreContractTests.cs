using DataManager.Storage.Sqlite;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Storage;

public sealed class SqliteStoreContractTests : StoreContractTests, IDisposable
{
    private readonly string _directory = ServerAvailability.TempDirectory("dm-sqlite-store");

    protected override async Task<TStore> CreateStoreAsync<TStore>()
    {
        var store = new SqliteStore(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"));
        await store.InitializeAsync(TestContext.Current.CancellationToken);
        return (TStore)(object)store;
    }

    protected override Task<DataManager.Storage.IIncidentStore> CreateIncidentStoreAsync() =>
        Task.FromResult<DataManager.Storage.IIncidentStore>(new SqliteIncidentStore(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db")));

    protected override async Task<(DataManager.Storage.IBackfillJobStore Jobs, DataManager.Auditing.IConfirmedEmptyRanges Ranges)> CreateConfirmedEmptyRangesAsync()
    {
        var store = await CreateStoreAsync<SqliteStore>();
        return (store, new SqliteConfirmedEmptyRanges(store.Path));
    }

    [Fact]
    public async Task The_confirmed_empty_query_reads_the_partial_expression_index_not_the_table()
    {
        var store = await CreateStoreAsync<SqliteStore>();
        var series = new DataManager.Candles.SeriesKey("BTCUSDT", DataManager.Candles.Timeframe.Parse("1m"));
        _ = await new SqliteConfirmedEmptyRanges(store.Path).OverlappingAsync(series, DateTimeOffset.UnixEpoch, DateTimeOffset.UtcNow, TestContext.Current.CancellationToken);
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
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => new SqliteStore(path).InitializeAsync(TestContext.Current.CancellationToken))));
        await new SqliteStore(path).PingAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task The_file_runs_in_wal_mode()
    {
        var store = await CreateStoreAsync<SqliteStore>();
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store.Path}");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_lease_write_waiting_on_a_lock_is_abandoned_at_its_token_and_never_lands_later()
    {
        var store = await CreateStoreAsync<SqliteStore>();
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

        var store = new SqliteStore(path);
        await store.InitializeAsync(TestContext.Current.CancellationToken);
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
