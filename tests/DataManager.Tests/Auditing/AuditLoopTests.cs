using System.Net;
using System.Net.Http.Json;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace DataManager.Tests.Auditing;

[Trait("Category", "Server")]
public sealed class AuditLoopTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 7, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-scheduler");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(AuditLoop Scheduler, SqliteTestStore Store, FakeTimeProvider Time)> EmbeddedAsync(string timeframes = "5m,15m,30m,1h,1d")
    {
        var time = new FakeTimeProvider(Now);
        var dialect = new SqliteCandleDialect(Path.Combine(_directory, "candles.db"));
        var candles = new SqlCandleStore(dialect, NullLogger<SqlCandleStore>.Instance);
        await new EmbeddedCandleDatabase(dialect, candles, time, NullLogger<EmbeddedCandleDatabase>.Instance).EnsureSeededAsync(Ct);
        var store = new SqliteTestStore(Path.Combine(_directory, "store.db"));
        await store.InitializeAsync(Ct);
        var series = new SeriesOptions { SupportedTimeframes = [.. timeframes.Split(',').Select(Timeframe.Parse)] };
        return (Scheduler(candles, store, time, series, new CandleDatabaseOptions()), store, time);
    }

    internal static AuditLoop Scheduler(SqlCandleStore candles, SqliteTestStore store, TimeProvider time, SeriesOptions series, CandleDatabaseOptions candleOptions, AuditOptions? auditOptions = null, ICandleSource? source = null, AuditMetrics? metrics = null)
    {
        var readiness = new CandleReadiness();
        readiness.MarkReady();
        var audit = Options.Create(auditOptions ?? new AuditOptions());
        metrics ??= new AuditMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry()));
        var remover = new DuplicateRemover(candles, candles, store, audit, metrics, time, NullLogger<DuplicateRemover>.Instance);
        return new AuditLoop(new SeriesAuditor(source ?? candles, audit), remover, new SqliteConfirmedEmptyRanges(store.Database), source ?? candles, store, store, audit, Options.Create(series), Options.Create(candleOptions),
            Options.Create(new ServiceOptions { PodId = "pod-test" }), readiness, metrics, time, NullLogger<AuditLoop>.Instance);
    }

    [Fact]
    public async Task A_cycle_audits_every_series_records_the_term_and_the_seeded_defects()
    {
        var (scheduler, store, _) = await EmbeddedAsync();
        var cycle = await scheduler.RunCycleAsync(7, Ct);

        Assert.Equal((15, 3, 3, 1, 0), (cycle.SeriesAudited, cycle.Gaps, cycle.DuplicateSurplus, cycle.IntegrityViolations, cycle.Errors));
        Assert.True(AuditLoop.Succeeded(cycle));
        Assert.Equal(7, cycle.Term);
        Assert.NotNull(cycle.FinishedAt);
        var records = await store.QueryAsync(new AuditQuery(Limit: 100), Ct);
        Assert.Equal(15, records.Count);
        Assert.All(records, r => Assert.Equal((7L, cycle.Id), (r.Term, r.CycleId)));
        var history = await store.HistoryAsync("ETHUSDT", "1h", null, null, 10, Ct);
        Assert.Equal(7, Assert.Single(history).Term);
        Assert.Equal(cycle.Id, (await store.RecentCyclesAsync(1, Ct))[0].Id);
    }

    [Fact]
    public async Task An_unchanged_series_is_reused_and_judged_again_only_for_freshness()
    {
        var (scheduler, store, time) = await EmbeddedAsync("1h");
        await scheduler.RunCycleAsync(1, Ct);
        time.Advance(TimeSpan.FromMinutes(5)); // same 1h grid
        var second = await scheduler.RunCycleAsync(1, Ct);
        var latest = await store.LatestPerSeriesAsync(Ct);
        Assert.Equal(3, second.SeriesAudited);
        Assert.All(latest, r => Assert.Equal(second.Id, r.CycleId));
        Assert.Equal(1, second.DuplicateSurplus);
        Assert.Equal(1, second.Gaps);

        time.Advance(TimeSpan.FromHours(3)); // the grid moved past the demo's end: a tail gap, and freshness drops
        await scheduler.RunCycleAsync(1, Ct);
        var stale = (await store.LatestPerSeriesAsync(Ct)).Single(r => r.Symbol == "SOLUSDT");
        Assert.Single(stale.Gaps);
        Assert.Equal(0, stale.Health!.Freshness);
    }

    [Fact]
    public async Task A_missing_table_fails_its_series_only()
    {
        var (scheduler, store, _) = await EmbeddedAsync("3m,1h");
        var cycle = await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal((6, 3), (cycle.SeriesAudited, cycle.Errors));
        Assert.False(AuditLoop.Succeeded(cycle), "a cycle with failed series is not a success");
        var errors = (await store.LatestPerSeriesAsync(Ct)).Where(r => r.Error is not null).ToList();
        Assert.All(errors, r => Assert.Equal("3m", r.Timeframe));
        Assert.All(errors, r => Assert.StartsWith("missing_table", r.Error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_database_that_goes_away_is_recorded_per_series_and_the_cycle_completes()
    {
        mariaDb.Require();
        var connectionString = await mariaDb.CreateDatabaseAsync();
        var builder = new MySqlConnector.MySqlConnectionStringBuilder(connectionString) { Port = (uint)ServerAvailability.FreePort(), ConnectionTimeout = 1 };
        var candles = new SqlCandleStore(new MySqlCandleDialect(builder.ConnectionString), NullLogger<SqlCandleStore>.Instance);
        var store = new SqliteTestStore(Path.Combine(_directory, "store.db"));
        await store.InitializeAsync(Ct);
        var scheduler = Scheduler(candles, store, new FakeTimeProvider(Now), new SeriesOptions { SupportedPairs = ["BTCUSDT", "ETHUSDT"], PairsConfigured = true }, new CandleDatabaseOptions { MySqlConnectionString = builder.ConnectionString });

        var cycle = await scheduler.RunCycleAsync(1, Ct);
        Assert.Equal((10, 10), (cycle.SeriesAudited, cycle.Errors));
        // Every series failed: the stale-audit alert must keep counting from the last real success.
        Assert.False(AuditLoop.Succeeded(cycle));
        Assert.All(await store.LatestPerSeriesAsync(Ct), r => Assert.Contains("Unable to connect", r.Error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Shutdown_in_the_middle_of_a_cycle_stops_it()
    {
        var (scheduler, _, _) = await EmbeddedAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scheduler.RunCycleAsync(1, cancelled.Token));
        Assert.False(scheduler.IsRunning);
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}

[Trait("Category", "Server")]
public sealed class AuditEndpointTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<ServiceHost> StartAsync() => ServiceHost.StartAsync(new Dictionary<string, string?>
    {
        ["INITIAL_STARTUP_DELAY"] = "0",
        ["AUDIT_INTERVAL"] = "1",
        ["ENABLE_LEADER_ELECTION"] = "false",
    });

    private static Task<AuditStatusResponse> WaitForCycleAsync(ServiceHost host) =>
        Eventually.UntilValueAsync("an audit cycle has finished", async token =>
            await host.Client.GetFromJsonAsync<AuditStatusResponse>("/health/audit-status", StoreJson.Options, token) is { LastCycle: not null } status ? status : null,
            TimeSpan.FromMinutes(2), cancellationToken: Ct);

    [Fact]
    public async Task Audit_status_reports_the_last_cycle_and_every_series()
    {
        await using var host = await StartAsync();
        var status = await WaitForCycleAsync(host);
        Assert.True(status.Enabled);
        Assert.True(status.IsLeader);
        Assert.Equal(15, status.LastCycle!.SeriesAudited);
        // The three seeded gaps, plus a tail gap per series whose boundary the run crossed since seeding (the demo never grows).
        Assert.InRange(status.LastCycle.Gaps, 3, 3 + status.LastCycle.SeriesAudited);
        Assert.Contains(status.Series, s => s is { Symbol: "ETHUSDT", Timeframe: "1h" } && s.Gaps >= 1);
        Assert.Contains(status.Series, s => s is { Symbol: "BTCUSDT", Timeframe: "5m" } && s.Gaps >= 1);
        Assert.NotNull(status.NextCycleAt);
        Assert.Equal(15, status.Series.Count);
        Assert.Contains(status.Series, s => s is { Symbol: "SOLUSDT", Timeframe: "30m", DuplicateSurplus: 2, Level: "healthy" });

        var json = await host.Client.GetStringAsync("/health/audit-status", Ct);
        Assert.Contains("\"lastCycle\":{\"startedAt\":\"", json, StringComparison.Ordinal);
        Assert.Matches("\"auditedAt\":\"\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z\"", json);
    }

    [Fact]
    public async Task Audits_and_health_history_are_queryable()
    {
        await using var host = await StartAsync();
        await WaitForCycleAsync(host);
        var page = await host.Client.GetFromJsonAsync<AuditPage>("/api/audits?symbol=BTCUSDT&timeframe=15m&limit=5", StoreJson.Options, Ct);
        var audit = Assert.Single(page!.Items.Take(1));
        Assert.Equal(("BTCUSDT", "15m"), (audit.Symbol, audit.Timeframe));
        // The demo's seeded gap, 14 h back. The demo never grows, so a run that crosses a 15-minute boundary between
        // seeding and auditing also sees the newest candle missing: a tail gap, which this test does not count.
        Assert.Single(audit.Gaps, g => g.To < audit.WindowTo.AddHours(-1));

        var history = await host.Client.GetFromJsonAsync<HealthHistory>("/api/health-scores/BTCUSDT/15m?limit=3", StoreJson.Options, Ct);
        Assert.NotEmpty(history!.Points);
        Assert.True(history.Points[0].Quality > 90);
    }

    [Fact]
    public async Task Leader_status_and_the_audit_metrics_are_served_with_the_values_of_the_cycle()
    {
        // One cycle only (the next is an hour away), so every counter holds exactly what that cycle saw.
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["INITIAL_STARTUP_DELAY"] = "0",
            ["AUDIT_INTERVAL"] = "3600",
            ["ENABLE_LEADER_ELECTION"] = "false",
        });
        var status = await WaitForCycleAsync(host);
        using var leader = System.Text.Json.JsonDocument.Parse(await host.Client.GetStringAsync("/health/leader", Ct));
        Assert.Equal(["enabled", "isLeader", "podId", "lease", "lastError", "incarnation"], leader.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.False(leader.RootElement.GetProperty("enabled").GetBoolean()); // ENABLE_LEADER_ELECTION=false: always leader
        Assert.True(leader.RootElement.GetProperty("isLeader").GetBoolean());

        // The host's own registry: no other test's audit of the same demo series is counted here.
        var metrics = await host.Client.GetStringAsync("/metrics", Ct);
        double Sample(string sample) => Exposition.Value(metrics, sample);
        string Series(string symbol, string timeframe) => $"{{symbol=\"{symbol}\",timeframe=\"{timeframe}\"}}";
        Assert.Equal((1, 0, 1, 0), (Sample("data_manager_audit_leader_status"), Sample("data_manager_leader_term"),
            Sample("data_manager_leader_transitions_total"), Sample("data_manager_leader_renew_failures_total")));
        Assert.Equal((1, 3600), (Sample("data_manager_audit_enabled"), Sample("data_manager_audit_interval_seconds")));
        var cycle = status.LastCycle!;
        Assert.Equal((1, cycle.SeriesAudited, 0), (Sample("data_manager_audit_cycle_seconds_count"), Sample("data_manager_audit_series_audited"), Sample("data_manager_audit_series_errors")));
        Assert.Equal(cycle.FinishedAt.ToUnixTimeMilliseconds() / 1000.0, Sample("data_manager_audit_last_success_timestamp_seconds"), 0.5);
        Assert.Equal(cycle.Gaps, status.Series.Sum(s => Sample("data_manager_audit_gaps_detected_total" + Series(s.Symbol, s.Timeframe))));
        foreach (var series in status.Series)
        {
            Assert.Equal(series.Quality!.Value, Sample("data_manager_audit_health_score" + Series(series.Symbol, series.Timeframe)), 6);
            Assert.Equal(series.Gaps, Sample("data_manager_audit_gaps_detected_total" + Series(series.Symbol, series.Timeframe)));
            if (series.Gaps > 0)
            {
                Assert.Equal(series.Gaps, Sample("data_manager_audit_open_gaps" + Series(series.Symbol, series.Timeframe)));
            }
            else
            {
                Assert.DoesNotContain("data_manager_audit_open_gaps" + Series(series.Symbol, series.Timeframe), metrics, StringComparison.Ordinal);
            }
        }

        // The demo's seeded defects: two surplus rows on SOLUSDT 30m, one on BTCUSDT 1h, one broken candle on SOLUSDT 5m.
        Assert.Equal((2, 1), (Sample("data_manager_audit_duplicates_detected_total" + Series("SOLUSDT", "30m")), Sample("data_manager_audit_duplicates_detected_total" + Series("BTCUSDT", "1h"))));
        Assert.Equal(1, Sample("data_manager_audit_integrity_violations_total{symbol=\"SOLUSDT\",timeframe=\"5m\",rule=\"ohlc_inconsistent\"}"));
        Assert.Equal(cycle.IntegrityViolations, metrics.Split('\n').Count(l => l.StartsWith("data_manager_audit_integrity_violations_total{", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("/api/audits?symbol=btc-usdt", "symbol")]
    [InlineData("/api/audits?timeframe=7m", "timeframe")]
    [InlineData("/api/audits?from=yesterday", "from")]
    [InlineData("/api/audits?from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z", "to")]
    [InlineData("/api/audits?limit=100000", "limit")]
    [InlineData("/api/health-scores/BTCUSDT/2w", "timeframe")]
    [InlineData("/api/health-scores/B/1h", "symbol")]
    public async Task Bad_inputs_get_a_400_problem_naming_the_parameter(string url, string parameter)
    {
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?> { ["ENABLE_AUDITOR"] = "false" });
        using var response = await host.Client.GetAsync(url, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"\"{parameter}\"", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
