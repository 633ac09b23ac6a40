using DataManager.Configuration;
using DataManager.Storage;
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
        StoreServices.StartAsync(new StoreOptions { DataDir = Path.Combine(_directory, Guid.NewGuid().ToString("N")) });

    private static async Task<SqliteTestStore> NewStoreAsync(string path)
    {
        var store = new SqliteTestStore(path);
        await store.InitializeAsync(TestContext.Current.CancellationToken);
        return store;
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
