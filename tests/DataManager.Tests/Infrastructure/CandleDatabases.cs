using DataManager.Testing;
using DataManager.Candles;
using Microsoft.Extensions.Logging.Abstractions;

namespace DataManager.Tests.Infrastructure;

/// <summary>Fresh candle databases holding the extractor's tables, on MariaDB or SQLite.</summary>
public static class CandleDatabases
{
    public static async Task<SqlCandleStore> MariaDbAsync(MariaDbServer server, params Timeframe[] tables)
    {
        var connectionString = await server.CreateDatabaseAsync();
        await using var connection = new MySqlConnector.MySqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        foreach (var table in tables)
        {
            await using var command = new MySqlConnector.MySqlCommand(CandleSchema.MySqlCreateTable(table), connection);
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        return new SqlCandleStore(new MySqlCandleDialect(connectionString), NullLogger<SqlCandleStore>.Instance);
    }

    public static async Task<SqlCandleStore> SqliteAsync(string directory, params Timeframe[] tables)
    {
        var dialect = new SqliteCandleDialect(Path.Combine(directory, Guid.NewGuid().ToString("N") + ".db"));
        await using var connection = dialect.CreateConnection();
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        foreach (var table in tables)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = CandleSchema.SqliteCreateTable(table);
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        return new SqlCandleStore(dialect, NullLogger<SqlCandleStore>.Instance);
    }

    public static void RemoveDirectory(string directory)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        LocalServers.DeleteDirectory(directory);
    }
}
