using DataManager.Configuration;
using MySqlConnector;
using DataManager.Testing;
using Testcontainers.MySql;

namespace DataManager.Tests.Infrastructure;

/// <summary>
/// One MariaDB/MySQL server for the test run: <c>MYSQL_TEST_URI</c> (an account that may create databases),
/// else a local <c>mariadbd</c> started on a free port in a temp dir (removed afterwards), else
/// Testcontainers when Docker answers, else unavailable with the reason. Each test takes its own database.
/// </summary>
public sealed class MariaDbServer : IAsyncLifetime
{
    private LocalMariaDb? _local;
    private MySqlContainer? _container;
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
            else if (LocalMariaDb.IsInstalled)
            {
                Source = "local mariadbd";
                _local = await LocalMariaDb.StartAsync();
                _adminConnectionString = _local.AdminConnectionString;
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

    private Task WaitUntilAnswersAsync(TimeSpan timeout) => LocalMariaDb.WaitUntilAnswersAsync(_adminConnectionString!, null, timeout);

    /// <summary>Skips (or fails, when required) the calling test if the server is unavailable.</summary>
    public void Require() => ServerAvailability.Require("mysql", UnavailableReason);

    /// <summary>A fresh, empty database for one test; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        Require();
        return await LocalMariaDb.CreateDatabaseAsync(_adminConnectionString!);
    }

    /// <summary>The same database as a <c>mysql://</c> URI, the form deployments configure.</summary>
    public static string ToUri(string connectionString)
    {
        var b = new MySqlConnectionStringBuilder(connectionString);
        return $"mysql://{Uri.EscapeDataString(b.UserID)}:{Uri.EscapeDataString(b.Password)}@{b.Server}:{b.Port}/{b.Database}";
    }

    public async ValueTask DisposeAsync()
    {
        if (_local is not null)
        {
            await _local.DisposeAsync();
        }

        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
