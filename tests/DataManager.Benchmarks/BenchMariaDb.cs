using DataManager.Configuration;
using DataManager.Testing;
using MySqlConnector;

namespace DataManager.Benchmarks;

/// <summary>The MariaDB a load run uses: MYSQL_BENCH_URI when set, else an ephemeral local mariadbd stopped on dispose.</summary>
internal sealed class BenchMariaDb : IAsyncDisposable
{
    private readonly LocalMariaDb? _local;

    private BenchMariaDb(string adminConnectionString, LocalMariaDb? local)
    {
        AdminConnectionString = adminConnectionString;
        _local = local;
    }

    /// <summary>A connection string with no database selected, for creating the run's databases.</summary>
    public string AdminConnectionString { get; }

    public static async Task<BenchMariaDb> StartAsync(string bufferPool)
    {
        if (Environment.GetEnvironmentVariable("MYSQL_BENCH_URI") is { Length: > 0 } uri && MySqlUri.TryParse(uri, out var cs, out _))
        {
            return new BenchMariaDb(new MySqlConnectionStringBuilder(cs) { Database = "" }.ConnectionString, null);
        }

        var local = await LocalMariaDb.StartAsync(bufferPool);
        return new BenchMariaDb(local.AdminConnectionString, local);
    }

    public ValueTask DisposeAsync() => _local?.DisposeAsync() ?? ValueTask.CompletedTask;
}
