using System.Globalization;
using Microsoft.Data.Sqlite;

namespace DataManager.Candles;

/// <summary>
/// Creates and seeds the embedded demo candle database once. Several processes may start at once on one
/// data directory: creation and seeding run in one IMMEDIATE transaction guarded by a marker row, so
/// exactly one process seeds and the others wait for it, then see the marker.
/// </summary>
public sealed partial class EmbeddedCandleDatabase(SqliteCandleDialect dialect, SqlCandleStore store, TimeProvider time, ILogger<EmbeddedCandleDatabase> logger)
{
    private const int SeedRowsPerCollection = 1_000;

    public async Task EnsureSeededAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(dialect.Path))!);
        await using var connection = (SqliteConnection)dialect.CreateConnection();
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken);

        string? seededAt;
        await using (var transaction = connection.BeginTransaction(deferred: false))
        {
            await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS demo_seed (id INTEGER PRIMARY KEY CHECK (id = 1), anchor TEXT NOT NULL, seeded_at TEXT NOT NULL);", cancellationToken);
            foreach (var timeframe in Timeframe.ExtractorDefaults)
            {
                await ExecuteAsync(connection, transaction, CandleSchema.SqliteCreateTable(timeframe), cancellationToken);
            }

            await using var check = connection.CreateCommand();
            check.Transaction = transaction;
            check.CommandText = "SELECT anchor FROM demo_seed WHERE id = 1;";
            seededAt = await check.ExecuteScalarAsync(cancellationToken) as string;
            if (seededAt is null)
            {
                // Anchored on the seed time (to the second): every series is complete up to its last closed candle.
                var anchor = new DateTime(time.GetUtcNow().UtcDateTime.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, DateTimeKind.Utc);
                await using (var marker = connection.CreateCommand())
                {
                    marker.Transaction = transaction;
                    marker.CommandText = "INSERT INTO demo_seed(id, anchor, seeded_at) VALUES (1, $anchor, $seededAt);";
                    marker.Parameters.AddWithValue("$anchor", anchor.ToString("O", CultureInfo.InvariantCulture));
                    marker.Parameters.AddWithValue("$seededAt", time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
                    await marker.ExecuteNonQueryAsync(cancellationToken);
                }

                // Marker and rows commit together: no process ever sees a half-seeded database.
                foreach (var group in DemoCandles.Generate(anchor).GroupBy(x => x.Timeframe))
                {
                    foreach (var chunk in group.Select(x => x.Candle).Chunk(SeedRowsPerCollection))
                    {
                        await store.InsertIgnoreAsync(connection, transaction, group.Key, chunk, cancellationToken);
                        // Binding allocates ~3.5 KB a row (parameter binders, UTF-8 copies, decimal text), dead at once.
                        // Measured without this: no collection ran during the seed whatever gen0 size was configured, and
                        // its ~35 MB stayed in gen0, where they set the replica's RSS high-water mark (docs/benchmarks.md).
                        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                    }
                }

                await transaction.CommitAsync(cancellationToken);
                // Once per data directory: hand start-up's spent heap back to the OS, not to the first load burst.
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                LogSeeded(logger, dialect.Path, anchor);
                return;
            }
        }

        LogAlreadySeeded(logger, dialect.Path, seededAt);
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded the embedded demo candle database {Path} (candles up to {Anchor:O})")]
    private static partial void LogSeeded(ILogger logger, string path, DateTime anchor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded demo candle database {Path} already seeded (anchor {Anchor})")]
    private static partial void LogAlreadySeeded(ILogger logger, string path, string? anchor);
}
