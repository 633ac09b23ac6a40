using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Incidents;
using DataManager.Leadership;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Auditing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Incidents;

/// <summary>
/// Compressed time on real MariaDB: an extractor writing two 1m series minute by minute, the real audit (every 5
/// minutes, auto-backfill and duplicate removal on), the real backfill runner against the fake Binance, and the
/// incident tracker after each cycle. Phases: on time; one series misses an hour (stale, then a major gap, repaired
/// by auto-backfill); an hour Binance has no data for (resolved source_empty, and it stays so); a duplicate burst
/// (removed).
/// </summary>
public sealed class IncidentProofTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTimeOffset Start = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-incident-proof");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Outage_backfill_source_empty_and_duplicates_each_make_the_incident_they_should()
    {
        // Unique symbols: the SLI counters are process-wide.
        var suffix = Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();
        var (ok, late) = ("OK" + suffix, "LATE" + suffix);
        await using var fake = await FakeBinance.StartAsync();
        var time = new FakeTimeProvider(Start);
        var candles = await CandleDatabases.MariaDbAsync(mariaDb, M1);
        var store = new SqliteTestStore(Path.Combine(_directory, "store.db"));
        await store.InitializeAsync(Ct);
        var incidents = store.Incidents;
        var backfill = new BackfillOptions { AutoBackfill = true, MinAutoBackfillGap = TimeSpan.FromHours(1), MaxAutoBackfillJobs = 5, BinanceBaseUrl = fake.Url };
        await using var services = BackfillServices.Build(backfill, store, candles, time: time);
        var runner = services.GetRequiredService<BackfillRunner>();
        var scheduler = AuditSchedulerTests.Scheduler(candles, store, time,
            new SeriesOptions { SupportedPairs = [ok, late], PairsConfigured = true, SupportedTimeframes = [M1] },
            new CandleDatabaseOptions { MySqlConnectionString = "unused" },
            new AuditOptions { Window = TimeSpan.FromHours(6), DuplicateRemoval = true }, backfill);
        var tracker = new IncidentTracker(store, incidents, store, Options.Create(new IncidentOptions()), time, NullLogger<IncidentTracker>.Instance);

        // Phases, by minute from the start: LATE writes nothing from 02:00 to 03:00; OK misses 04:00–05:00, which
        // Binance has no data for either; at 06:30 ten of OK's candles are written a second time under legacy ids.
        bool Skipped(string symbol, DateTimeOffset open) =>
            (symbol == late && open >= Start.AddHours(2) && open < Start.AddHours(3))
            || (symbol == ok && open >= Start.AddHours(4) && open < Start.AddHours(5));
        fake.Outages.Add((Start.AddHours(4).UtcDateTime, Start.AddHours(5).UtcDateTime));

        // Six hours of history, so the first audit's window is complete.
        await candles.InsertIgnoreAsync(M1, [.. Enumerable.Range(1, 6 * 60).SelectMany(i => new[] { ok, late }
            .Select(s => DemoCandles.Make(s, M1, Start.AddMinutes(-i).UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1)))], Ct);

        for (var minute = 1; minute <= 8 * 60; minute++)
        {
            var now = Start.AddMinutes(minute);
            time.SetUtcNow(now);
            var open = now.AddMinutes(-1);
            var rows = new[] { ok, late }.Where(s => !Skipped(s, open)).Select(s => DemoCandles.Make(s, M1, open.UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1)).ToList();
            if (minute == 6 * 60 + 30)
            {
                rows.AddRange(Enumerable.Range(1, 10).Select(i => DemoCandles.Make(ok, M1, now.AddMinutes(-20 - i).UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1) with { Id = $"legacy-{i}" }));
            }

            await candles.InsertIgnoreAsync(M1, rows, Ct);
            if (minute % 5 == 0)
            {
                await scheduler.RunCycleAsync(1, Ct);
                await runner.RunOnceAsync(new LeadershipTicket(1, Ct), Ct);
                await tracker.ApplyNewAuditsAsync(1, Ct);
            }
        }

        var all = await incidents.QueryAsync(new IncidentQuery(Limit: 1000), Ct);
        Assert.DoesNotContain(all, i => i.State == IncidentState.Open);
        string Describe(Incident i) => $"{i.Symbol[..^6]} {IncidentMetrics.Name(i.Kind)} {IncidentMetrics.Name(i.Severity)} {IncidentMetrics.Name(i.Cause!.Value)}";
        Assert.Equal(
        [
            "LATE gap major backfilled",
            "LATE stale critical late_write",
            "OK gap major source_empty",
            "OK stale critical late_write",
            "OK duplicate minor duplicates_removed",
        ], all.OrderBy(i => i.OpenedAt).ThenBy(i => i.Symbol, StringComparer.Ordinal).Select(i => Describe(i)).ToArray());

        // The outage: a growing tail (a major gap, and from 02:10 a stale series, critical) while the extractor was
        // silent. At 03:00 the tail reached MIN_AUTO_BACKFILL_GAP, the audit made a job and the runner filled it.
        // Opened by the 02:05 audit, which saw the first missing candle (02:00, due 02:01) four minutes late.
        var outage = all.Single(i => i.Symbol == late && i.Kind == IncidentKind.Gap);
        Assert.Equal((Start.AddHours(2), Start.AddHours(3).AddMinutes(-1), 60), (outage.From, outage.To, outage.Size));
        Assert.Equal(Start.AddHours(2).AddMinutes(5), outage.OpenedAt);
        Assert.Equal(240, outage.DetectSeconds);
        Assert.NotNull(outage.BackfillJobId);
        var job = await store.GetAsync(outage.BackfillJobId!, Ct);
        Assert.Equal((BackfillJobState.Completed, 60L), (job!.State, job.WrittenCandles));
        Assert.Equal(Start.AddHours(3).AddMinutes(5), outage.ResolvedAt);
        Assert.Equal(3600, outage.RepairSeconds);
        var stale = all.Single(i => i.Symbol == late && i.Kind == IncidentKind.Stale);
        Assert.Equal((Start.AddHours(2).AddMinutes(10), Start.AddHours(3).AddMinutes(5)), (stale.OpenedAt, stale.ResolvedAt!.Value));
        Assert.Equal(IncidentEventKind.Resolved, outage.Timeline[^1].Event);
        Assert.Equal(outage.BackfillJobId, outage.Timeline[^1].BackfillJobId);

        // The empty hour stays resolved: later audits report it sourceEmpty and open nothing.
        var empty = all.Single(i => i.Symbol == ok && i.Kind == IncidentKind.Gap);
        Assert.Equal((Start.AddHours(4), 60), (empty.From, empty.Size));
        Assert.True(empty.ResolvedAt < Start.AddHours(5).AddMinutes(15));
        var latestOk = (await store.LatestPerSeriesAsync(Ct)).Single(a => a.Symbol == ok);
        Assert.Equal((Start.AddHours(4), true), (Assert.Single(latestOk.Gaps).From, latestOk.Gaps[0].SourceEmpty));

        var duplicates = all.Single(i => i.Kind == IncidentKind.Duplicate);
        Assert.Equal(10, duplicates.Size);
        Assert.Equal(300, duplicates.RepairSeconds); // removed by the audit that found them; the next one is clean

        // SLIs. Completeness: one event per candle whose deadline (close + 2 min) passed after the first audit
        // (00:05), i.e. opens 00:03–07:57. LATE's candles 02:00–02:57 were missing at the first audit after their
        // deadline; 02:58 and 02:59 (deadlines 03:01, 03:02) were back by the 03:05 audit. Freshness: the audits
        // 02:05 to 03:00 found the newest candle too old, twelve 5-minute stretches.
        var lateTotal = IncidentMetrics.CandlesTotal.WithLabels(late, "1m").Value;
        var lateGood = IncidentMetrics.CandlesGood.WithLabels(late, "1m").Value;
        Assert.Equal((475.0, 58.0), (lateTotal, lateTotal - lateGood));
        var freshTotal = IncidentMetrics.FreshnessMinutesTotal.WithLabels(late, "1m").Value;
        Assert.Equal((475.0, 60.0), (freshTotal, freshTotal - IncidentMetrics.FreshnessMinutesGood.WithLabels(late, "1m").Value));
        Assert.Equal(IncidentMetrics.CandlesTotal.WithLabels(ok, "1m").Value, IncidentMetrics.CandlesGood.WithLabels(ok, "1m").Value + 58); // the empty hour was bad until Binance confirmed it
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
