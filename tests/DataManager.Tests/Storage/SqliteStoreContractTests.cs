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

    public void Dispose()
    {
        CandleDatabases.RemoveDirectory(_directory);
    }
}
