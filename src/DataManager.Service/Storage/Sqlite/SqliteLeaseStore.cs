using DataManager.Leadership;
using Dapper;
using Microsoft.Data.Sqlite;
using static DataManager.Storage.Sqlite.SqliteDatabase;

namespace DataManager.Storage.Sqlite;

/// <summary>
/// The leader lease in the embedded store, timed by SQLite's clock. Each write is one statement in a write unit,
/// so a write abandoned at its caller's budget is rolled back, never committed late.
/// </summary>
public sealed class SqliteLeaseStore(SqliteDatabase database) : ILeaseStore
{
    // SQLite's own clock in Unix milliseconds; 'now' is fixed within one statement.
    private const string NowMs = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

    private const string LeaseColumns = "name AS Name, holder AS Holder, term AS Term, acquired_at AS AcquiredAt, renewed_at AS RenewedAt, expires_at AS ExpiresAt, incarnation AS Incarnation";

    public Task<LeaseAttempt> TryAcquireOrRenewAsync(string name, LeaseClaimant claimant, TimeSpan duration, CancellationToken cancellationToken)
    {
        // One statement: insert the first record, renew if held by this holder and incarnation and unexpired
        // (term kept), or take over an expired or released lease (term + 1). A lease held by anyone else,
        // this pod's earlier incarnation included, is left untouched until it expires.
        const string heldByMe = $"leader_lease.holder = excluded.holder AND leader_lease.incarnation = excluded.incarnation AND leader_lease.expires_at > {NowMs}";
        const string sql = $"""
            INSERT INTO leader_lease(name, holder, incarnation, term, acquired_at, renewed_at, expires_at)
            VALUES (@Name, @Holder, @Incarnation, 1, {NowMs}, {NowMs}, {NowMs} + @Duration)
            ON CONFLICT(name) DO UPDATE SET
                term = CASE WHEN {heldByMe} THEN leader_lease.term ELSE leader_lease.term + 1 END,
                acquired_at = CASE WHEN {heldByMe} THEN leader_lease.acquired_at ELSE {NowMs} END,
                holder = excluded.holder,
                incarnation = excluded.incarnation,
                renewed_at = {NowMs},
                expires_at = {NowMs} + @Duration
            WHERE ({heldByMe}) OR leader_lease.expires_at <= {NowMs}
            RETURNING {LeaseColumns};
            """;
        return database.WriteAsync(connection =>
        {
            var taken = connection.QuerySingleOrDefault<LeaseRow>(sql, new { Name = name, claimant.Holder, claimant.Incarnation, Duration = (long)duration.TotalMilliseconds });
            return taken is not null ? new LeaseAttempt(true, taken.ToRecord()) : new LeaseAttempt(false, Read(connection, name));
        }, cancellationToken);
    }

    public Task ReleaseAsync(string name, LeaseClaimant claimant, CancellationToken cancellationToken) =>
        database.ExecuteAsync(
            $"UPDATE leader_lease SET expires_at = {NowMs} WHERE name = @Name AND holder = @Holder AND incarnation = @Incarnation AND expires_at > {NowMs};",
            new { Name = name, claimant.Holder, claimant.Incarnation },
            cancellationToken);

    public Task<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) =>
        database.ReadAsync(connection => Read(connection, name), cancellationToken);

    private static LeaseRecord? Read(SqliteConnection connection, string name) =>
        connection.QuerySingleOrDefault<LeaseRow>($"SELECT {LeaseColumns} FROM leader_lease WHERE name = @Name;", new { Name = name })?.ToRecord();

    private sealed record LeaseRow(string Name, string Holder, long Term, long AcquiredAt, long RenewedAt, long ExpiresAt, string Incarnation)
    {
        public LeaseRecord ToRecord() => new(Name, Holder, Term, FromMs(AcquiredAt), FromMs(RenewedAt), FromMs(ExpiresAt), Incarnation);
    }
}
