using DataManager.Configuration;
using MySqlConnector;
using Testcontainers.MySql;

namespace DataManager.Tests.Infrastructure;

/// <summary>
/// One MariaDB/MySQL server for the test run: <c>MYSQL_TEST_URI</c> (an account that may create databases),
/// else a local <c>mariadbd</c> started on a free port in a temp dir (removed afterwards), else
/// Testcontainers when Docker answers, else unavailable with the reason. Each test takes its own database.
/// </summary>
public sealed class MariaDbServer : IAsyncLifetime
{
    private LocalProcess? _process;
    private MySqlContainer? _container;
    private string? _directory;
    private string? _adminConnectionString;

    public string? UnavailableReason { get; private set; }

    public string Source { get; private set; } = "none";

    public async ValueTask InitializeAsync()
    {
        try
        {
            if (Environment.GetEnvironmentVariable("MYSQL_TEST_URI") is { Length: > 0 } uri)
            {
                if (!MySqlUri.TryParse(uri, out var connectionString, out var problem))
                {
                    UnavailableReason = "MYSQL_TEST_URI is malformed: " + problem;
                    return;
                }

                _adminConnectionString = new MySqlConnectionStringBuilder(connectionString) { Database = "" }.ConnectionString;
                Source = "MYSQL_TEST_URI";
            }
            else if (ServerAvailability.FindBinary("mariadbd") is { } mariadbd && ServerAvailability.FindBinary("mariadb-install-db") is { } installDb)
            {
                await StartLocalAsync(mariadbd, installDb);
                Source = "local mariadbd";
            }
            else if (ServerAvailability.DockerMayAnswer())
            {
                _container = new MySqlBuilder("mysql:8.0").WithUsername("root").WithPassword("test").Build();
                await _container.StartAsync();
                _adminConnectionString = new MySqlConnectionStringBuilder(_container.GetConnectionString()) { Database = "" }.ConnectionString;
                Source = "Testcontainers";
            }
            else
            {
                UnavailableReason = "no MYSQL_TEST_URI, no mariadbd binary (apt-get install mariadb-server), no Docker";
                return;
            }

            await WaitUntilAnswersAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception e)
        {
            UnavailableReason = $"could not start ({Source}): {e.Message}";
        }
    }

    private async Task StartLocalAsync(string mariadbd, string installDb)
    {
        _directory = ServerAvailability.TempDirectory("dm-mariadb");
        var data = Path.Combine(_directory, "data");
        var tmp = Path.Combine(_directory, "tmp");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(tmp);
        await using (var install = LocalProcess.Start(installDb,
            ["--no-defaults", $"--datadir={data}", $"--tmpdir={tmp}", "--auth-root-authentication-method=normal", "--skip-test-db"]))
        {
            if (await install.WaitForExitAsync(TimeSpan.FromMinutes(2)) != 0)
            {
                throw new InvalidOperationException("mariadb-install-db failed: " + install.Output);
            }
        }

        var port = ServerAvailability.FreePort();
        _process = LocalProcess.Start(mariadbd,
        [
            "--no-defaults", $"--datadir={data}", $"--tmpdir={tmp}", "--user=root", $"--port={port}",
            $"--socket={Path.Combine(data, "s")}", "--bind-address=127.0.0.1", "--skip-name-resolve",
            "--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
        ]);
        _adminConnectionString = new MySqlConnectionStringBuilder
        {
            Server = "127.0.0.1",
            Port = (uint)port,
            UserID = "root",
            Password = "",
            ConnectionTimeout = 5,
        }.ConnectionString;
    }

    private async Task WaitUntilAnswersAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await using var connection = new MySqlConnection(_adminConnectionString);
                await connection.OpenAsync();
                return;
            }
            catch (MySqlException) when (DateTime.UtcNow < deadline && _process?.HasExited != true)
            {
                await Task.Delay(200);
            }
            catch (MySqlException e)
            {
                throw new InvalidOperationException($"server did not answer: {e.Message}; output: {_process?.Output}", e);
            }
        }
    }

    /// <summary>Skips (or fails, when required) the calling test if the server is unavailable.</summary>
    public void Require() => ServerAvailability.Require("mysql", UnavailableReason);

    /// <summary>A fresh, empty database for one test; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        Require();
        var name = "dm_" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = new MySqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name} CHARACTER SET utf8mb4";
        await command.ExecuteNonQueryAsync();
        return new MySqlConnectionStringBuilder(_adminConnectionString!) { Database = name, DefaultCommandTimeout = 120 }.ConnectionString;
    }

    /// <summary>The same database as a <c>mysql://</c> URI, the form deployments configure.</summary>
    public static string ToUri(string connectionString)
    {
        var b = new MySqlConnectionStringBuilder(connectionString);
        return $"mysql://{Uri.EscapeDataString(b.UserID)}:{Uri.EscapeDataString(b.Password)}@{b.Server}:{b.Port}/{b.Database}";
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        if (_container is not null)
        {
            await _container.DisposeAsync();
        }

        if (_directory is not null)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
