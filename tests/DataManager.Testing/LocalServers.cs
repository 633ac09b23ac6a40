using System.Net;
using System.Net.Sockets;
using MySqlConnector;

namespace DataManager.Testing;

public static class LocalServers
{
    public static string? FindBinary(string name)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return path.Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string TempDirectory(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>An ephemeral MariaDB: its own data and temp directories and a free port, removed on dispose.</summary>
public sealed class LocalMariaDb : IAsyncDisposable
{
    private readonly string[] _arguments;
    private readonly string _directory;
    private LocalProcess _process;

    private LocalMariaDb(LocalProcess process, string[] arguments, string directory, string adminConnectionString)
    {
        _process = process;
        _arguments = arguments;
        _directory = directory;
        AdminConnectionString = adminConnectionString;
    }

    /// <summary>root on 127.0.0.1, no database selected.</summary>
    public string AdminConnectionString { get; }

    /// <summary>The mariadbd process id (benchmarks read its CPU time).</summary>
    public int ProcessId => _process.Id;

    public static bool IsInstalled => LocalServers.FindBinary("mariadbd") is not null && LocalServers.FindBinary("mariadb-install-db") is not null;

    public static async Task<LocalMariaDb> StartAsync(string bufferPool = "256M")
    {
        var directory = LocalServers.TempDirectory("dm-mariadb");
        var data = Path.Combine(directory, "data");
        var tmp = Path.Combine(directory, "tmp");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(tmp);
        await using (var install = LocalProcess.Start(LocalServers.FindBinary("mariadb-install-db")!,
            ["--no-defaults", $"--datadir={data}", $"--tmpdir={tmp}", "--auth-root-authentication-method=normal", "--skip-test-db"]))
        {
            if (await install.WaitForExitAsync(TimeSpan.FromMinutes(2)) != 0)
            {
                throw new InvalidOperationException("mariadb-install-db failed: " + install.Output);
            }
        }

        var port = LocalServers.FreePort();
        string[] arguments =
        [
            "--no-defaults", $"--datadir={data}", $"--tmpdir={tmp}", "--user=root", $"--port={port}",
            $"--socket={Path.Combine(data, "s")}", "--bind-address=127.0.0.1", "--skip-name-resolve",
            $"--innodb-buffer-pool-size={bufferPool}", "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
        ];
        var process = LocalProcess.Start(LocalServers.FindBinary("mariadbd")!, arguments);
        var admin = new MySqlConnectionStringBuilder { Server = "127.0.0.1", Port = (uint)port, UserID = "root", Password = "", ConnectionTimeout = 5 }.ConnectionString;
        var server = new LocalMariaDb(process, arguments, directory, admin);
        try
        {
            await WaitUntilAnswersAsync(admin, process, TimeSpan.FromSeconds(60));
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public static async Task WaitUntilAnswersAsync(string connectionString, LocalProcess? process, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await using var connection = new MySqlConnection(connectionString);
                await connection.OpenAsync();
                return;
            }
            catch (MySqlException) when (DateTime.UtcNow < deadline && process?.HasExited != true)
            {
                await Task.Delay(200);
            }
            catch (MySqlException e)
            {
                throw new InvalidOperationException($"server did not answer: {e.Message}; output: {process?.Output}", e);
            }
        }
    }

    /// <summary>A fresh, empty database; returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string adminConnectionString)
    {
        var name = "dm_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new MySqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name} CHARACTER SET utf8mb4";
        await command.ExecuteNonQueryAsync();
        return new MySqlConnectionStringBuilder(adminConnectionString) { Database = name, DefaultCommandTimeout = 600 }.ConnectionString;
    }

    /// <summary>Sends a POSIX signal to mariadbd: STOP hangs it (connections accepted by the kernel, never answered), CONT resumes it.</summary>
    public void Signal(string signal) => _process.Signal(signal);

    /// <summary>Stops mariadbd cleanly (SIGTERM); its port then refuses connections. <see cref="StartAgainAsync"/> restarts it on the same data.</summary>
    public async Task StopAsync()
    {
        _process.Signal("TERM");
        try
        {
            await _process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        }
        catch (OperationCanceledException)
        {
        }

        await _process.DisposeAsync();
    }

    public async Task StartAgainAsync()
    {
        _process = LocalProcess.Start(LocalServers.FindBinary("mariadbd")!, _arguments);
        await WaitUntilAnswersAsync(AdminConnectionString, _process, TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        _process.Signal("CONT");
        await _process.DisposeAsync();
        LocalServers.DeleteDirectory(_directory);
    }
}
