using DataManager.Auditing;
using DataManager.Incidents;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace DataManager.Tests.Incidents;

/// <summary>The leader-only loop over a real SQLite store: audits in, incidents out, across a change of leader.</summary>
public sealed class IncidentTrackerTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-incidents");
    private readonly SqliteTestStore _store;
    private readonly SqliteIncidentStore _incidents;

    public IncidentTrackerTests()
    {
        var path = Path.Combine(_directory, "store.db");
        _store = new SqliteTestStore(path);
        _store.InitializeAsync(Ct).GetAwaiter().GetResult();
        _incidents = _store.Incidents;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly IncidentMetrics _metrics = new(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry()));

    private IncidentTracker Tracker(IIncidentStore? incidents = null) => new(
        _store, incidents ?? _incidents, _store, Microsoft.Extensions.Options.Options.Create(new IncidentOptions()), _metrics, new FakeTimeProvider(T0.AddDays(1)),
        NullLogger<IncidentTracker>.Instance);

    private double Opened() =>
        Enum.GetValues<IncidentSeverity>().SelectMany(s => Enum.GetValues<IncidentKind>().Select(k => _metrics.Opened.WithLabels(IncidentMetrics.Name(s), IncidentMetrics.Name(k)).Value)).Sum();

    private async Task CycleAsync(DateTimeOffset at, params AuditRecord[] records)
    {
        var cycle = new AuditCycleRecord { Id = "c" + at.ToUnixTimeSeconds(), Term = 1, Leader = "pod-a", StartedAt = at, FinishedAt = at.AddSeconds(1) };
        await _store.SaveCycleAsync(cycle, Ct);
        await _store.InsertAsync([.. records.Select(r => r with { CycleId = cycle.Id, AuditedAt = at })], Ct);
    }

    private static AuditRecord Gap(DateTimeOffset at, int minutes, string symbol = "BTCUSDT") =>
        IncidentRulesTests.Audit(at, symbol: symbol, gaps: [new GapFinding(T0.AddHours(-2), T0.AddHours(-2).AddMinutes(minutes - 1), minutes)]);

    private static AuditRecord Clean(DateTimeOffset at, string symbol = "BTCUSDT") => IncidentRulesTests.Audit(at, symbol: symbol);

    [Fact]
    public async Task The_opened_log_line_prints_the_range_in_utc_with_z_like_the_api()
    {
        await CycleAsync(T0, Gap(T0, 5));
        var logger = new RecordingLogger<IncidentTracker>();
        var tracker = new IncidentTracker(_store, _incidents, _store, Microsoft.Extensions.Options.Options.Create(new IncidentOptions()), _metrics, new FakeTimeProvider(T0.AddDays(1)), logger);
        await tracker.ApplyNewAuditsAsync(1, Ct);
        var opened = Assert.Single(logger.Lines, l => l.Contains(" opened: ", StringComparison.Ordinal));
        Assert.EndsWith("BTCUSDT/1m gap (minor) 2026-11-22T08:00:00Z..2026-11-22T08:04:00Z", opened);
    }

    [Fact]
    public async Task Audit_cycles_open_update_and_resolve_incidents_and_the_cursor_skips_applied_cycles()
    {
        await CycleAsync(T0, Gap(T0, 5), Clean(T0, "ETHUSDT"));
        await CycleAsync(T0.AddMinutes(5), Gap(T0.AddMinutes(5), 8), Clean(T0.AddMinutes(5), "ETHUSDT"));
        var tracker = Tracker();
        Assert.Equal(2, await tracker.ApplyNewAuditsAsync(1, Ct)); // opened, then updated
        Assert.Equal(0, await tracker.ApplyNewAuditsAsync(1, Ct));

        var open = Assert.Single(await _incidents.OpenAsync(Ct));
        Assert.Equal((8, 2L, 1L), (open.Size, open.Version, open.Term));
        string[] pair = [IncidentMetrics.Name(open.Severity), IncidentMetrics.Name(open.Kind)];
        Assert.Equal((1.0, 1.0), (Opened(), _metrics.Open.WithLabels(pair).Value)); // opened once, not again when it grew

        await CycleAsync(T0.AddMinutes(10), Clean(T0.AddMinutes(10)), Clean(T0.AddMinutes(10), "ETHUSDT"));
        Assert.Equal(1, await tracker.ApplyNewAuditsAsync(1, Ct));
        Assert.Empty(await _incidents.OpenAsync(Ct));
        var resolved = (await _incidents.GetAsync(open.Id, Ct))!;
        Assert.Equal((IncidentState.Resolved, ResolutionCause.LateWrite, 600.0), (resolved.State, resolved.Cause, resolved.RepairSeconds));
        Assert.Equal((1.0, 0.0), (Opened(), _metrics.Open.WithLabels(pair).Value));
        Assert.Equal((1L, 600.0), (_metrics.RepairSeconds.WithLabels("late_write").Count, _metrics.RepairSeconds.WithLabels("late_write").Sum));
        Assert.Equal(T0.AddMinutes(10), await _incidents.ReadCursorAsync(Ct));
    }

    [Fact]
    public async Task A_new_leader_reapplying_cycles_the_old_one_wrote_but_did_not_record_changes_nothing()
    {
        await CycleAsync(T0, Gap(T0, 5));
        await Tracker().ApplyNewAuditsAsync(1, Ct);
        // The old leader writes the next cycle's incidents, then dies before moving its cursor.
        await CycleAsync(T0.AddMinutes(5), Clean(T0.AddMinutes(5)), Gap(T0.AddMinutes(5), 3, "ETHUSDT"));
        await Assert.ThrowsAsync<IOException>(() => Tracker(new CursorCrashes(_incidents)).ApplyNewAuditsAsync(1, Ct));
        var afterOldLeader = await _incidents.QueryAsync(new IncidentQuery(), Ct);

        Assert.Equal(0, await Tracker().ApplyNewAuditsAsync(2, Ct));
        var afterNewLeader = await _incidents.QueryAsync(new IncidentQuery(), Ct);
        Assert.Equal(StoreJson.Serialize(afterOldLeader), StoreJson.Serialize(afterNewLeader));
        Assert.Equal(["BTCUSDT:resolved:late_write", "ETHUSDT:open:"], afterNewLeader.OrderBy(i => i.Symbol, StringComparer.Ordinal)
            .Select(i => $"{i.Symbol}:{IncidentMetrics.Name(i.State)}:{(i.Cause is { } c ? IncidentMetrics.Name(c) : "")}").ToArray());
        Assert.Equal(T0.AddMinutes(5), await _incidents.ReadCursorAsync(Ct));
    }

    [Fact]
    public async Task A_deposed_leader_cannot_overwrite_what_the_new_leader_resolved()
    {
        await CycleAsync(T0, Gap(T0, 5));
        await Tracker().ApplyNewAuditsAsync(1, Ct);
        var stale = Assert.Single(await _incidents.OpenAsync(Ct));

        await CycleAsync(T0.AddMinutes(5), Clean(T0.AddMinutes(5)));
        await Tracker().ApplyNewAuditsAsync(2, Ct);

        // The old leader, still holding its view of the open incident, applies a later gap sighting under term 1.
        var late = IncidentRules.Apply(Gap(T0.AddMinutes(6), 9), TimeSpan.FromMinutes(1), [stale], [], 1);
        Assert.False(await _incidents.TrySaveAsync(Assert.Single(late), stale.Version, Ct));
        var stored = (await _incidents.GetAsync(stale.Id, Ct))!;
        Assert.Equal((IncidentState.Resolved, 2L), (stored.State, stored.Term));
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);

    /// <summary>An incident store whose cursor write fails, as if the process died right before it.</summary>
    private sealed class CursorCrashes(IIncidentStore inner) : IIncidentStore
    {
        public Task<bool> TrySaveAsync(Incident incident, long expectedVersion, CancellationToken cancellationToken) => inner.TrySaveAsync(incident, expectedVersion, cancellationToken);

        public async Task<IReadOnlyList<bool>> TrySaveCycleAsync(IReadOnlyList<IncidentWrite> writes, DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken)
        {
            foreach (var write in writes)
            {
                await inner.TrySaveAsync(write.Incident, write.ExpectedVersion, cancellationToken);
            }

            throw new IOException("process died");
        }

        public Task<Incident?> GetAsync(string id, CancellationToken cancellationToken) => inner.GetAsync(id, cancellationToken);

        public Task<IReadOnlyList<Incident>> OpenAsync(CancellationToken cancellationToken) => inner.OpenAsync(cancellationToken);

        public Task<IReadOnlyList<Incident>> QueryAsync(IncidentQuery query, CancellationToken cancellationToken) => inner.QueryAsync(query, cancellationToken);

        public Task<DateTimeOffset?> ReadCursorAsync(CancellationToken cancellationToken) => inner.ReadCursorAsync(cancellationToken);

        public Task SaveCursorAsync(DateTimeOffset appliedThrough, long term, CancellationToken cancellationToken) => throw new IOException("process died");

        public Task<long> PruneResolvedAsync(DateTimeOffset resolvedBefore, CancellationToken cancellationToken) => inner.PruneResolvedAsync(resolvedBefore, cancellationToken);
    }
}
