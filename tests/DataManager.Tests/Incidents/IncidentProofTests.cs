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
/// (removed); two candles written late. The SLI counters, sampled every minute as a scrape would, then go through
/// the real rule file in <c>promtool test rules</c> to check which burn-rate alerts fire in each phase.
/// </summary>
[Trait("Category", "Server")]
public sealed class IncidentProofTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTimeOffset Start = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-incident-proof");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Outage_backfill_source_empty_and_duplicates_each_make_the_incident_they_should()
    {
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
        var scheduler = AuditLoopTests.Scheduler(candles, store, time,
            new SeriesOptions { SupportedPairs = [ok, late], PairsConfigured = true, SupportedTimeframes = [M1] },
            new CandleDatabaseOptions { MySqlConnectionString = "unused" },
            new AuditOptions { Window = TimeSpan.FromHours(6), DuplicateRemoval = true });
        var autoBackfill = DataManager.Tests.Backfill.BackfillJobTests.AutoBackfill(store, backfill, time);
        var metrics = new IncidentMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()));
        var tracker = new IncidentTracker(store, incidents, store, Options.Create(new IncidentOptions()), metrics, time, NullLogger<IncidentTracker>.Instance);
        var scrapes = new SliScrapes(metrics, [ok, late]);
        scrapes.Sample(); // 00:00

        // Phases, by minute from the start: LATE writes nothing from 02:00 to 03:00; OK misses 04:00–05:00, which
        // Binance has no data for either; at 06:30 ten of OK's candles are written a second time under legacy ids;
        // OK's 07:30 and 07:31 candles (the smallest gap the audit reports: MIN_GAP_SIZE_SECONDS is 120) are written at
        // 07:36, after the audit that follows their deadlines.
        var lateCandle = Start.AddHours(7).AddMinutes(30);
        bool Skipped(string symbol, DateTimeOffset open) =>
            (symbol == late && open >= Start.AddHours(2) && open < Start.AddHours(3))
            || (symbol == ok && ((open >= Start.AddHours(4) && open < Start.AddHours(5)) || open == lateCandle || open == lateCandle.AddMinutes(1)));
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

            if (now == lateCandle.AddMinutes(6))
            {
                rows.AddRange([.. new[] { lateCandle, lateCandle.AddMinutes(1) }.Select(t => DemoCandles.Make(ok, M1, t.UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1))]);
            }

            await candles.InsertIgnoreAsync(M1, rows, Ct);
            if (minute % 5 == 0)
            {
                await scheduler.RunCycleAsync(1, Ct);
                await autoBackfill.PlanNewestCycleAsync(1, Ct);
                await runner.RunOnceAsync(new LeadershipTicket(1, Ct), Ct);
                await tracker.ApplyNewAuditsAsync(1, Ct);
            }

            scrapes.Sample();
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
            "OK gap minor late_write",
        ], all.OrderBy(i => i.OpenedAt).ThenBy(i => i.Symbol, StringComparer.Ordinal).Select(i => Describe(i)).ToArray());

        // The outage: a growing tail (a major gap, and from 02:10 a stale series, critical) while the extractor was
        // silent. At 03:00 the tail reached MIN_AUTO_BACKFILL_GAP, the auto-backfill loop made a job from the audit and the runner filled it.
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
        var empty = all.Single(i => i.Symbol == ok && i.Kind == IncidentKind.Gap && i.Cause == ResolutionCause.SourceEmpty);
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
        var lateTotal = metrics.CandlesTotal.WithLabels(late, "1m").Value;
        var lateGood = metrics.CandlesGood.WithLabels(late, "1m").Value;
        Assert.Equal((475.0, 58.0), (lateTotal, lateTotal - lateGood));
        var freshTotal = metrics.FreshnessMinutesTotal.WithLabels(late, "1m").Value;
        Assert.Equal((475.0, 60.0), (freshTotal, freshTotal - metrics.FreshnessMinutesGood.WithLabels(late, "1m").Value));
        // The empty hour was bad until Binance confirmed it, and the late candles were missing when their deadline passed.
        Assert.Equal(metrics.CandlesTotal.WithLabels(ok, "1m").Value, metrics.CandlesGood.WithLabels(ok, "1m").Value + 60);
        var lateWrite = all.Single(i => i.Symbol == ok && i.Kind == IncidentKind.Gap && i.Cause == ResolutionCause.LateWrite);
        Assert.Equal((lateCandle, 2, lateCandle.AddMinutes(5), 300.0), (lateWrite.From, lateWrite.Size, lateWrite.OpenedAt, lateWrite.RepairSeconds!.Value));

        // The burn-rate alerts on these counters, phase by phase, as Prometheus evaluates the rule file.
        var firing = await scrapes.FiringAlertsAsync([90, 160, 200, 280, 400, 470], Ct);
        var phases = string.Join("\n", firing.Select(f => $"{f.Key}: {f.Value}")).Replace(late, "LATE", StringComparison.Ordinal).Replace(ok, "OK", StringComparison.Ordinal);
        // 01:30 on time: nothing. 02:40, LATE's outage: pages (1 h and 5 m over 14.4x) and tickets; OK, on time, quiet.
        // 03:20, repaired: the pages stop, the tickets (6 h and 30 m windows) linger. 04:40, OK's hour that Binance
        // turns out to have no data for pages too: its candles counted bad before the backfill confirmed it empty.
        // 06:40, the duplicate burst spends no budget. 07:50, two late candles page nobody (fewer than three bad
        // candles in the hour); the ticket is the empty hour, still in the 6 h window, plus those two in the 30 m one.
        string[] expected =
        [
            "90: ",
            "160: DataManagerCompletenessBudgetBurnFast LATE, DataManagerCompletenessBudgetBurnSlow LATE, DataManagerFreshnessBudgetBurnFast LATE, DataManagerFreshnessBudgetBurnSlow LATE",
            "200: DataManagerCompletenessBudgetBurnSlow LATE, DataManagerFreshnessBudgetBurnSlow LATE",
            "280: DataManagerCompletenessBudgetBurnFast OK, DataManagerCompletenessBudgetBurnSlow OK, DataManagerFreshnessBudgetBurnFast OK, DataManagerFreshnessBudgetBurnSlow OK",
            "400: ",
            "470: DataManagerCompletenessBudgetBurnSlow OK",
        ];
        Assert.True(phases == string.Join("\n", expected), phases);
    }

    /// <summary>The four SLI counters of each series and the objectives, once a minute, as Prometheus would scrape them.</summary>
    private sealed class SliScrapes(IncidentMetrics metrics, IReadOnlyList<string> symbols)
    {
        private readonly Dictionary<string, List<double>> _values = [];

        public void Sample()
        {
            foreach (var symbol in symbols)
            {
                Add($"data_manager_slo_candles_total{{symbol=\"{symbol}\",timeframe=\"1m\"}}", metrics.CandlesTotal.WithLabels(symbol, "1m").Value);
                Add($"data_manager_slo_candles_good_total{{symbol=\"{symbol}\",timeframe=\"1m\"}}", metrics.CandlesGood.WithLabels(symbol, "1m").Value);
                Add($"data_manager_slo_freshness_minutes_total{{symbol=\"{symbol}\",timeframe=\"1m\"}}", metrics.FreshnessMinutesTotal.WithLabels(symbol, "1m").Value);
                Add($"data_manager_slo_freshness_minutes_good_total{{symbol=\"{symbol}\",timeframe=\"1m\"}}", metrics.FreshnessMinutesGood.WithLabels(symbol, "1m").Value);
            }

            var defaults = new IncidentOptions();
            Add("data_manager_slo_objective_ratio{slo=\"completeness\"}", defaults.CompletenessObjective / 100);
            Add("data_manager_slo_objective_ratio{slo=\"freshness\"}", defaults.FreshnessObjective / 100);
        }

        private void Add(string series, double value)
        {
            if (!_values.TryGetValue(series, out var values))
            {
                _values[series] = values = [];
            }

            values.Add(value);
        }

        /// <summary>
        /// For each minute asked, the burn-rate alerts firing then ("Name SYMBOL, …", sorted; the others watch series
        /// this test does not feed), read from promtool's unit-test
        /// evaluation of k8s/base/prometheusrule.yaml over the sampled series: each minute is a promql test of
        /// ALERTS; the failure message of a test expecting nothing lists what did fire.
        /// </summary>
        public async Task<Dictionary<int, string>> FiringAlertsAsync(IReadOnlyList<int> minutes, CancellationToken cancellationToken)
        {
            var promtool = DataManager.Tests.Deployment.AlertRuleTests.Promtool();
            var directory = ServerAvailability.TempDirectory("dm-proof-rules");
            try
            {
                var rule = DataManager.Tests.Deployment.Manifests.ParseAll(await File.ReadAllTextAsync(DataManager.Tests.Deployment.Manifests.Directory("base/prometheusrule.yaml"), cancellationToken)).Single();
                await File.WriteAllTextAsync(Path.Combine(directory, "rules.yaml"), DataManager.Tests.Deployment.Manifests.ToYaml(rule["spec"]!), cancellationToken);
                var result = new Dictionary<int, string>();
                foreach (var minute in minutes)
                {
                    var input = string.Join("\n", _values.Select(v => $"      - series: '{v.Key}'\n        values: '{string.Join(' ', v.Value.Select(x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)))}'"));
                    var test = $$"""
                        rule_files: [rules.yaml]
                        evaluation_interval: 1m
                        tests:
                          - interval: 1m
                            input_series:
                        {{input}}
                            promql_expr_test:
                              - expr: count by (alertname, symbol) (ALERTS{alertstate="firing",alertname=~".*BudgetBurn.*"})
                                eval_time: {{minute}}m
                                exp_samples: []
                        """;
                    await File.WriteAllTextAsync(Path.Combine(directory, "proof.test.yaml"), test, cancellationToken);
                    var run = await LocalProcess.RunAsync(promtool, ["test", "rules", "proof.test.yaml"], TimeSpan.FromMinutes(6), workingDirectory: directory);
                    result[minute] = run.ExitCode == 0 ? "" : Firing(run.StandardOutput + run.StandardError);
                }

                return result;
            }
            finally
            {
                LocalServers.DeleteDirectory(directory);
            }
        }

        // promtool prints the unexpected samples as {alertname="X", symbol="Y"} 1 (older versions without the space).
        private static string Firing(string output)
        {
            var alerts = System.Text.RegularExpressions.Regex.Matches(output, "alertname=\"(\\w+)\",\\s*symbol=\"(\\w+)\"")
                .Select(m => m.Groups[1].Value + " " + m.Groups[2].Value).Distinct().Order(StringComparer.Ordinal).ToList();
            Assert.True(alerts.Count > 0, "promtool failed: " + output);
            return string.Join(", ", alerts);
        }
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
