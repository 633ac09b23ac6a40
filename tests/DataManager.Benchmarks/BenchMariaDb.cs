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

    /// <summary>
    /// CPU seconds mariadbd has used so far, from /proc: the local server's, or MYSQL_BENCH_PID's with MYSQL_BENCH_URI;
    /// null when neither is known.
    /// </summary>
    public double? ServerCpu()
    {
        var pid = _local?.ProcessId ?? (int.TryParse(Environment.GetEnvironmentVariable("MYSQL_BENCH_PID"), out var id) ? id : null);
        if (pid is null || !File.Exists($"/proc/{pid}/stat"))
        {
            return null;
        }

        // utime and stime, fields 14 and 15, after the parenthesised command name.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }

    public ValueTask DisposeAsync() => _local?.DisposeAsync() ?? ValueTask.CompletedTask;
}
