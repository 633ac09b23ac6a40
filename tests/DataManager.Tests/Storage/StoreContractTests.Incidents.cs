using DataManager.Incidents;
using DataManager.Storage;

namespace DataManager.Tests.Storage;

/// <summary>The incident port's half of the store contract.</summary>
public abstract partial class StoreContractTests
{
    /// <summary>A new, empty incident store.</summary>
    protected abstract Task<IIncidentStore> CreateIncidentStoreAsync();

    internal static Incident Incident(string id, DateTimeOffset openedAt, string symbol = "BTCUSDT", string timeframe = "1m",
        IncidentSeverity severity = IncidentSeverity.Major, long term = 1) => new()
    {
        Id = id,
        Symbol = symbol,
        Timeframe = timeframe,
        Kind = IncidentKind.Gap,
        Severity = severity,
        From = openedAt.AddHours(-2),
        To = openedAt.AddHours(-1),
        Size = 61,
        DueAt = openedAt.AddHours(-2).AddMinutes(1),
        OpenedAt = openedAt,
        LastAuditAt = openedAt,
        DetectSeconds = 7140,
        Term = term,
        Timeline = [new IncidentEvent(IncidentEventKind.Opened, openedAt, openedAt, 1, "c1", severity, 61, openedAt.AddHours(-2), openedAt.AddHours(-1))],
    };

    [Fact]
    public async Task Incidents_round_trip_every_field()
    {
        var store = await CreateIncidentStoreAsync();
        var incident = Incident("i1", T0.AddMilliseconds(250)) with
        {
            Rule = "ohlc_inconsistent",
            Kind = IncidentKind.MissingTable,
            State = IncidentState.Resolved,
            ResolvedAt = T0.AddHours(1),
            Cause = ResolutionCause.LateWrite,
            BackfillJobId = "job-9",
            RepairSeconds = 3600,
        };
        Assert.True(await store.TrySaveAsync(incident, 0, Ct));

        var read = await store.GetAsync("i1", Ct);
        Assert.Equal(StoreJson.Serialize(incident with { Version = 1 }), StoreJson.Serialize(read));
        Assert.Null(await store.GetAsync("none", Ct));
    }

    [Fact]
    public async Task Incident_writes_are_insert_if_absent_then_versioned_and_never_under_an_older_term()
    {
        var store = await CreateIncidentStoreAsync();
        var incident = Incident("i1", T0, term: 2);
        Assert.True(await store.TrySaveAsync(incident, 0, Ct));
        Assert.False(await store.TrySaveAsync(incident with { Size = 99 }, 0, Ct)); // a second create of the same id (another leader) loses

        Assert.True(await store.TrySaveAsync(incident with { Size = 70 }, 1, Ct));
        Assert.False(await store.TrySaveAsync(incident with { Size = 80 }, 1, Ct)); // stale version
        Assert.False(await store.TrySaveAsync(incident with { Size = 80, Term = 1 }, 2, Ct)); // an older leader
        Assert.True(await store.TrySaveAsync(incident with { Size = 90, Term = 3, State = IncidentState.Resolved, ResolvedAt = T0.AddHours(1) }, 2, Ct));

        var read = (await store.GetAsync("i1", Ct))!;
        Assert.Equal((90, 3L, 3L, IncidentState.Resolved), (read.Size, read.Version, read.Term, read.State));
    }

    [Fact]
    public async Task Open_incidents_and_queries_filter_order_newest_first_and_page()
    {
        var store = await CreateIncidentStoreAsync();
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await store.TrySaveAsync(Incident($"b{i}", T0.AddHours(i), severity: i % 2 == 0 ? IncidentSeverity.Minor : IncidentSeverity.Major), 0, Ct));
        }

        Assert.True(await store.TrySaveAsync(Incident("eth", T0.AddHours(2), symbol: "ETHUSDT", timeframe: "1h"), 0, Ct));
        var resolved = Incident("gone", T0.AddHours(3)) with { State = IncidentState.Resolved, ResolvedAt = T0.AddHours(4), Cause = ResolutionCause.Backfilled };
        Assert.True(await store.TrySaveAsync(resolved, 0, Ct));

        Assert.Equal(["b0", "b1", "b2", "eth", "b3", "b4"], (await store.OpenAsync(Ct)).Select(i => i.Id).ToArray());
        Assert.Equal(["b4", "b3", "gone", "b2", "eth", "b1", "b0"], (await store.QueryAsync(new IncidentQuery(), Ct)).Select(i => i.Id).ToArray());
        Assert.Equal(["gone"], (await store.QueryAsync(new IncidentQuery(State: IncidentState.Resolved), Ct)).Select(i => i.Id).ToArray());
        Assert.Equal(["eth"], (await store.QueryAsync(new IncidentQuery(Symbol: "ETHUSDT", Timeframe: "1h"), Ct)).Select(i => i.Id).ToArray());
        Assert.Equal(["b3", "b1"], (await store.QueryAsync(new IncidentQuery(State: IncidentState.Open, Symbol: "BTCUSDT", Severity: IncidentSeverity.Major), Ct))
            .Select(i => i.Id).ToArray());
        Assert.Equal(["b3", "gone", "b2", "eth"], (await store.QueryAsync(new IncidentQuery(From: T0.AddHours(2), To: T0.AddHours(4)), Ct)).Select(i => i.Id).ToArray());
        Assert.Equal(["b3", "gone"], (await store.QueryAsync(new IncidentQuery(Skip: 1, Limit: 2), Ct)).Select(i => i.Id).ToArray());
    }

    [Fact]
    public async Task A_cycles_writes_report_each_result_and_move_the_cursor()
    {
        var store = await CreateIncidentStoreAsync();
        Assert.True(await store.TrySaveAsync(Incident("old", T0), 0, Ct));
        var results = await store.TrySaveCycleAsync(
            [new IncidentWrite(Incident("new", T0), 0), new IncidentWrite(Incident("old", T0) with { Size = 5 }, 7), new IncidentWrite(Incident("old", T0) with { Size = 6 }, 1)],
            T0.AddMinutes(5), 1, Ct);
        Assert.Equal([true, false, true], results);
        Assert.Equal(6, (await store.GetAsync("old", Ct))!.Size);
        Assert.NotNull(await store.GetAsync("new", Ct));
        Assert.Equal(T0.AddMinutes(5), await store.ReadCursorAsync(Ct));
    }

    [Fact]
    public async Task The_incident_cursor_only_moves_forward()
    {
        var store = await CreateIncidentStoreAsync();
        Assert.Null(await store.ReadCursorAsync(Ct));
        await store.SaveCursorAsync(T0.AddMinutes(10), 2, Ct);
        await store.SaveCursorAsync(T0.AddMinutes(5), 1, Ct);
        Assert.Equal(T0.AddMinutes(10), await store.ReadCursorAsync(Ct));
        await store.SaveCursorAsync(T0.AddMinutes(15), 2, Ct);
        Assert.Equal(T0.AddMinutes(15), await store.ReadCursorAsync(Ct));
    }

    [Fact]
    public async Task Pruning_incidents_removes_only_long_resolved_ones()
    {
        var store = await CreateIncidentStoreAsync();
        await store.TrySaveAsync(Incident("open-old", T0), 0, Ct);
        await store.TrySaveAsync(Incident("old", T0) with { State = IncidentState.Resolved, ResolvedAt = T0.AddHours(1), Cause = ResolutionCause.LateWrite }, 0, Ct);
        await store.TrySaveAsync(Incident("new", T0) with { State = IncidentState.Resolved, ResolvedAt = T0.AddDays(2), Cause = ResolutionCause.LateWrite }, 0, Ct);

        Assert.Equal(1, await store.PruneResolvedAsync(T0.AddDays(1), Ct));
        Assert.Equal(["new", "open-old"], (await store.QueryAsync(new IncidentQuery(), Ct)).Select(i => i.Id).Order(StringComparer.Ordinal).ToArray());
    }
}
