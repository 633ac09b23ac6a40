using DataManager.Auditing;
using static DataManager.Storage.Sqlite.SqliteDatabase;

namespace DataManager.Storage.Sqlite;

/// <summary>The health history of every series in the embedded store.</summary>
public sealed class SqliteHealthScoreStore(SqliteDatabase database) : IHealthScoreStore
{
    public Task AppendAsync(IReadOnlyList<HealthScoreRecord> scores, CancellationToken cancellationToken) =>
        database.InsertAsync(
            "INSERT INTO health_scores(id, symbol, timeframe, at, body) VALUES (@Id, @Symbol, @Timeframe, @At, @Body) ON CONFLICT(id) DO NOTHING;",
            scores.Select(s => new { s.Id, s.Symbol, s.Timeframe, At = Ms(s.At), Body = StoreJson.SerializeStored(s) }),
            cancellationToken);

    public Task<IReadOnlyList<HealthScoreRecord>> HistoryAsync(string symbol, string timeframe, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<HealthScoreRecord>(
            """
            SELECT body FROM health_scores
            WHERE symbol = @Symbol AND timeframe = @Timeframe AND (@From IS NULL OR at >= @From) AND (@To IS NULL OR at < @To)
            ORDER BY at DESC, id LIMIT @Limit;
            """,
            new { Symbol = symbol, Timeframe = timeframe, From = Ms(from), To = Ms(to), Limit = limit },
            cancellationToken);

    public Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        database.ExecuteAsync("DELETE FROM health_scores WHERE at < @T;", new { T = Ms(olderThan) }, cancellationToken);
}
