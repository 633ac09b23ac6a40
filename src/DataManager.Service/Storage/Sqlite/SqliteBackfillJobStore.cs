using DataManager.Backfill;
using Dapper;
using static DataManager.Storage.Sqlite.SqliteDatabase;

namespace DataManager.Storage.Sqlite;

/// <summary>Backfill jobs in the embedded store; a job's version guards every update.</summary>
public sealed class SqliteBackfillJobStore(SqliteDatabase database) : IBackfillJobStore
{
    private static readonly string EndedStatesSql = string.Join(", ", BackfillJobStates.Ended.Select(s => $"'{StateName(s)}'"));

    public Task CreateAsync(BackfillJob job, CancellationToken cancellationToken) =>
        database.ExecuteAsync(
            "INSERT INTO backfill_jobs(id, state, created_at, version, body) VALUES (@Id, @State, @At, @Version, @Body);",
            new { job.Id, State = StateName(job.State), At = Ms(job.CreatedAt), job.Version, Body = StoreJson.SerializeStored(job) },
            cancellationToken);

    public Task<BackfillJob?> GetAsync(string id, CancellationToken cancellationToken) =>
        database.QueryBodyAsync<BackfillJob>("SELECT body FROM backfill_jobs WHERE id = @Id;", new { Id = id }, cancellationToken);

    public Task<IReadOnlyList<BackfillJob>> ListAsync(BackfillJobState? state, int limit, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<BackfillJob>(
            "SELECT body FROM backfill_jobs WHERE (@State IS NULL OR state = @State) ORDER BY created_at, id LIMIT @Limit;",
            new { State = StateName(state), Limit = limit },
            cancellationToken);

    public Task<IReadOnlyList<BackfillJob>> ListNewestAsync(BackfillJobState? state, BackfillJobPosition? after, int limit, CancellationToken cancellationToken) =>
        database.QueryBodiesAsync<BackfillJob>(
            """
            SELECT body FROM backfill_jobs
            WHERE (@State IS NULL OR state = @State) AND (@At IS NULL OR created_at < @At OR (created_at = @At AND id < @Id))
            ORDER BY created_at DESC, id DESC LIMIT @Limit;
            """,
            new { State = StateName(state), At = Ms(after?.CreatedAt), after?.Id, Limit = limit },
            cancellationToken);

    public async Task<bool> TryUpdateAsync(BackfillJob job, long expectedVersion, CancellationToken cancellationToken)
    {
        var stored = job with { Version = expectedVersion + 1 };
        return await database.ExecuteAsync(
            "UPDATE backfill_jobs SET state = @State, version = @Version, body = @Body WHERE id = @Id AND version = @Expected;",
            new { job.Id, State = StateName(job.State), stored.Version, Body = StoreJson.SerializeStored(stored), Expected = expectedVersion },
            cancellationToken) == 1;
    }

    public Task<long> PruneFinishedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken) =>
        database.ExecuteAsync($"DELETE FROM backfill_jobs WHERE created_at < @T AND state IN ({EndedStatesSql});", new { T = Ms(createdBefore) }, cancellationToken);

    public Task<IReadOnlyDictionary<BackfillJobState, long>> CountByStateAsync(CancellationToken cancellationToken) =>
        database.ReadAsync<IReadOnlyDictionary<BackfillJobState, long>>(
            connection => connection.Query<(string State, long Count)>("SELECT state, COUNT(*) FROM backfill_jobs GROUP BY state;")
                .ToDictionary(row => Enum.Parse<BackfillJobState>(row.State, ignoreCase: true), row => row.Count),
            cancellationToken);

    private static string? StateName(BackfillJobState? state) => state?.ToString().ToLowerInvariant();
}
