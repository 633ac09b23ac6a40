using DataManager.Auditing;
using static DataManager.Storage.Sqlite.SqliteDatabase;

namespace DataManager.Storage.Sqlite;

/// <summary>Audits and audit cycles in the embedded store.</summary>
public sealed class SqliteAuditStore(SqliteDatabase database) : IAuditStore
{
    public Task InsertAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken) =>
        database.InsertAsync(
            "INSERT INTO audits(id, cycle_id, symbol, timeframe, audited_at, body) VALUES (@Id, @CycleId, @Symbol, @Timeframe, @At, @Body) ON CONFLICT(id) DO NOTHING;",
            records.Select(r => new { r.Id, r.CycleId, r.Symbol, r.Timeframe, At = Ms(r.AuditedAt), Body = StoreJson.SerializeStored(r) }),
            cancellationToken);

    public Task<IReadOnlyList<AuditRecord>> QueryAsync(AuditQuery query, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<AuditRecord>(
            """
            SELECT body FROM audits
            WHERE (@Symbol IS NULL OR symbol = @Symbol) AND (@Timeframe IS NULL OR timeframe = @Timeframe)
              AND (@From IS NULL OR audited_at >= @From) AND (@To IS NULL OR audited_at < @To)
            ORDER BY audited_at DESC, id LIMIT @Limit OFFSET @Skip;
            """,
            new { query.Symbol, query.Timeframe, From = Ms(query.From), To = Ms(query.To), query.Limit, query.Skip },
            cancellationToken);

    public Task<IReadOnlyList<AuditRecord>> LatestPerSeriesAsync(CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<AuditRecord>(
            """
            SELECT body FROM (
                SELECT body, symbol, timeframe,
                       ROW_NUMBER() OVER (PARTITION BY symbol, timeframe ORDER BY audited_at DESC, id) AS n
                FROM audits)
            WHERE n = 1 ORDER BY symbol, timeframe;
            """,
            null,
            cancellationToken);

    public Task SaveCycleAsync(AuditCycleRecord cycle, CancellationToken cancellationToken) =>
        database.ExecuteAsync(
            "INSERT OR REPLACE INTO audit_cycles(id, started_at, body) VALUES (@Id, @At, @Body);",
            new { cycle.Id, At = Ms(cycle.StartedAt), Body = StoreJson.SerializeStored(cycle) },
            cancellationToken);

    public Task<IReadOnlyList<AuditCycleRecord>> RecentCyclesAsync(int limit, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<AuditCycleRecord>("SELECT body FROM audit_cycles ORDER BY started_at DESC, id DESC LIMIT @Limit;", new { Limit = limit }, cancellationToken);

    public async Task<long> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken) =>
        await database.ExecuteAsync("DELETE FROM audits WHERE audited_at < @T;", new { T = Ms(olderThan) }, cancellationToken)
        + await database.ExecuteAsync("DELETE FROM audit_cycles WHERE started_at < @T;", new { T = Ms(olderThan) }, cancellationToken);
}
