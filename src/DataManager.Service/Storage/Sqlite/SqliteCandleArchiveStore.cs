using DataManager.Candles;
using static DataManager.Storage.Sqlite.SqliteDatabase;

namespace DataManager.Storage.Sqlite;

/// <summary>Candle rows removed by duplicate resolution, kept in the embedded store.</summary>
public sealed class SqliteCandleArchiveStore(SqliteDatabase database) : ICandleArchiveStore
{
    public Task ArchiveAsync(IReadOnlyList<ArchivedCandle> rows, CancellationToken cancellationToken) =>
        database.InsertAsync(
            "INSERT INTO candle_archive(id, symbol, timeframe, removed_at, body) VALUES (@Id, @Symbol, @Timeframe, @At, @Body) ON CONFLICT(id) DO NOTHING;",
            rows.Select(r => new { r.Id, r.Row.Symbol, r.Timeframe, At = Ms(r.RemovedAt), Body = StoreJson.SerializeStored(r) }),
            cancellationToken);

    public Task<IReadOnlyList<ArchivedCandle>> ListAsync(string symbol, string timeframe, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<ArchivedCandle>(
            "SELECT body FROM candle_archive WHERE symbol = @Symbol AND timeframe = @Timeframe ORDER BY removed_at, id;",
            new { Symbol = symbol, Timeframe = timeframe },
            cancellationToken);
}
