using DataManager.Analytics;
using static DataManager.Storage.Sqlite.SqliteDatabase;

namespace DataManager.Storage.Sqlite;

/// <summary>Analytics results in the embedded store.</summary>
public sealed class SqliteAnalyticsStore(SqliteDatabase database) : IAnalyticsStore
{
    public Task InsertAsync(IReadOnlyList<AnalyticsResult> results, CancellationToken cancellationToken) =>
        database.InsertAsync(
            "INSERT INTO analytics_results(id, symbol, timeframe, metric, computed_at, body) VALUES (@Id, @Symbol, @Timeframe, @Metric, @At, @Body) ON CONFLICT(id) DO NOTHING;",
            results.Select(r => new { r.Id, r.Symbol, r.Timeframe, r.Metric, At = Ms(r.ComputedAt), Body = StoreJson.SerializeStored(r) }),
            cancellationToken);

    public Task<IReadOnlyList<AnalyticsResult>> LatestAsync(string symbol, string timeframe, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<AnalyticsResult>(
            """
            SELECT body FROM (
                SELECT body, metric, ROW_NUMBER() OVER (PARTITION BY metric ORDER BY computed_at DESC, id) AS n
                FROM analytics_results WHERE symbol = @Symbol AND timeframe = @Timeframe)
            WHERE n = 1 ORDER BY metric;
            """,
            new { Symbol = symbol, Timeframe = timeframe },
            cancellationToken);

    public Task<IReadOnlyList<AnalyticsResult>> HistoryAsync(string symbol, string timeframe, string metric, DateTimeOffset? from, DateTimeOffset? to, int limit, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<AnalyticsResult>(
            """
            SELECT body FROM analytics_results
            WHERE symbol = @Symbol AND timeframe = @Timeframe AND metric = @Metric
              AND (@From IS NULL OR computed_at >= @From) AND (@To IS NULL OR computed_at < @To)
            ORDER BY computed_at DESC, id LIMIT @Limit;
            """,
            new { Symbol = symbol, Timeframe = timeframe, Metric = metric, From = Ms(from), To = Ms(to), Limit = limit },
            cancellationToken);

    public Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        database.ExecuteAsync("DELETE FROM analytics_results WHERE computed_at < @T;", new { T = Ms(olderThan) }, cancellationToken);
}
