using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Cli;
using DataManager.Configuration;
using DataManager.Incidents;
using DataManager.Leadership;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Auditing;
using DataManager.Tests.Deployment;
using DataManager.Tests.Infrastructure;
using DataManager.Tracking;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Incidents;

/// <summary>
/// A week of compressed time on real MariaDB: an extractor writing two 1m series, every candle, the real audit
/// (auto-backfill and duplicate removal on), the real backfill runner against the fake Binance, the incident
/// tracker after each cycle, and the feed tracker's per-symbol counts. Phases, one a day: on time; one series
/// misses an hour (repaired by auto-backfill); an hour Binance has no data for (resolved source_empty); a duplicate
/// burst; one symbol silent on the feed; two candles written late. Every minute the metrics a scrape would take are
/// sampled; a real Prometheus, started on a TSDB made from those samples with the real rule file, then says which
/// alerts fire at a moment of each phase.
/// </summary>
[Trait("Category", "Server")]
public sealed class IncidentProofTests(MariaDbServer mariaDb) : IDisposable
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTimeOffset Start = new(2026, 11, 16, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-incident-proof");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DateTimeOffset At(int day, int hour, int minute = 0) => Start.AddDays(day).AddHours(hour).AddMinutes(minute);

    [Fact]
    public async Task A_week_of_outage_backfill_source_empty_duplicates_silence_and_late_candles_makes_the_incidents_and_alerts_it_should()
    {
        var promtool = AlertRuleTests.Promtool();
        ServerAvailability.Require("prometheus", LocalPrometheus.IsInstalled ? null : "no prometheus binary (apt-get install prometheus)");
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
        var objectives = new IncidentOptions();
        metrics.Objective.WithLabels("completeness").Set(objectives.CompletenessObjective / 100);
        metrics.Objective.WithLabels("freshness").Set(objectives.FreshnessObjective / 100);
        var tracker = new IncidentTracker(store, incidents, store, Options.Create(objectives), metrics, time, NullLogger<IncidentTracker>.Instance);
        var feedMetrics = new TrackerMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()));
        var feed = new TrackerStats([ok, late], trackAllSymbols: false, feedMetrics);
        var scrapes = new Scrapes();

        // The phases. Day 1: LATE writes nothing 02:00–03:00. Day 2: OK misses 04:00–05:00, which Binance has no data
        // for either. Day 3, 06:30: ten of OK's candles written a second time under legacy ids. Day 4: no LATE message
        // on the feed after 12:00 until 12:10 (its candles still written: only the publishing to the feed broke).
        // Day 5: OK's 07:30 and 07:31 candles (the smallest gap the audit reports: MIN_GAP_SIZE_SECONDS is 120)
        // written at 07:36, after the audit that follows their deadlines.
        var lateCandle = At(5, 7, 30);
        bool Skipped(string symbol, DateTimeOffset open) =>
            (symbol == late && open >= At(1, 2) && open < At(1, 3))
            || (symbol == ok && ((open >= At(2, 4) && open < At(2, 5)) || open == lateCandle || open == lateCandle.AddMinutes(1)));
        bool Silent(string symbol, DateTimeOffset now) => symbol == late && now > At(4, 12) && now < At(4, 12, 10);
        fake.Outages.Add((At(2, 4).UtcDateTime, At(2, 5).UtcDateTime));

        // The audit runs every 5 minutes around the phases, as in production; on quiet stretches every hour (the SLIs
        // count every candle and minute between two audits either way, and nothing burns there).
        (DateTimeOffset From, DateTimeOffset To)[] busy = [(At(1, 1), At(1, 5)), (At(2, 3), At(2, 7)), (At(3, 6), At(3, 8)), (At(5, 7), At(5, 9))];
        bool AuditDue(DateTimeOffset now) => busy.Any(b => now >= b.From && now <= b.To) ? now.Minute % 5 == 0 : now.Minute == 0;

        // Six hours of history, so the first audit's window is complete.
        await candles.InsertIgnoreAsync(M1, [.. Enumerable.Range(1, 6 * 60).SelectMany(i => new[] { ok, late }
            .Select(s => DemoCandles.Make(s, M1, Start.AddMinutes(-i).UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1)))], Ct);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var audits = 0;
        var pending = new List<Candle>();
        var envelope = new ArrayBufferWriter<byte>();
        AuditRecord? okAfterEmptyHour = null;
        for (var minute = 0; minute <= 7 * 24 * 60; minute++)
        {
            var now = Start.AddMinutes(minute);
            time.SetUtcNow(now);
            foreach (var symbol in new[] { ok, late }.Where(s => !Silent(s, now)))
            {
                envelope.ResetWrittenCount();
                FeedCommand.WriteEnvelope(envelope, "aggTrade", symbol, minute, now.ToUnixTimeMilliseconds());
                var parsed = FeedEnvelope.Parse(envelope.WrittenSpan, 65536);
                feed.Received1(parsed.EventType, parsed.Symbol, envelope.WrittenCount, now.ToUnixTimeMilliseconds(), parsed.EventTimeMs);
            }

            if (minute > 0)
            {
                // The extractor writes the candle that just closed; it reaches MariaDB before the next audit.
                var open = now.AddMinutes(-1);
                pending.AddRange(new[] { ok, late }.Where(s => !Skipped(s, open)).Select(s => DemoCandles.Make(s, M1, open.UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1)));
                if (now == At(3, 6, 30))
                {
                    pending.AddRange(Enumerable.Range(1, 10).Select(i => DemoCandles.Make(ok, M1, now.AddMinutes(-20 - i).UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1) with { Id = $"legacy-{i}" }));
                }

                if (now == lateCandle.AddMinutes(6))
                {
                    pending.AddRange([.. new[] { lateCandle, lateCandle.AddMinutes(1) }.Select(t => DemoCandles.Make(ok, M1, t.UtcDateTime, 1m, 2m, 0.5m, 1.5m, 1m, 1))]);
                }
            }

            if (AuditDue(now) && minute > 0)
            {
                await candles.InsertIgnoreAsync(M1, pending, Ct);
                pending.Clear();
                await scheduler.RunCycleAsync(1, Ct);
                audits++;
                await autoBackfill.PlanNewestCycleAsync(1, Ct);
                await runner.RunOnceAsync(new LeadershipTicket(1, Ct), Ct);
                await tracker.ApplyNewAuditsAsync(1, Ct);
                if (now == At(2, 6))
                {
                    okAfterEmptyHour = (await store.LatestPerSeriesAsync(Ct)).Single(a => a.Symbol == ok);
                }
            }

            feed.Export();
            scrapes.Sample(now, metrics, feedMetrics, [ok, late]);
        }

        var week = clock.Elapsed;
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
        // silent. At 03:00 the tail reached MIN_AUTO_BACKFILL_GAP, the auto-backfill loop made a job from the audit
        // and the runner filled it. Opened by the 02:05 audit, which saw the first missing candle (02:00, due 02:01)
        // four minutes late.
        var outage = all.Single(i => i.Symbol == late && i.Kind == IncidentKind.Gap);
        Assert.Equal((At(1, 2), At(1, 2, 59), 60), (outage.From, outage.To, outage.Size));
        Assert.Equal(At(1, 2, 5), outage.OpenedAt);
        Assert.Equal(240, outage.DetectSeconds);
        Assert.NotNull(outage.BackfillJobId);
        var job = await store.GetAsync(outage.BackfillJobId!, Ct);
        Assert.Equal((BackfillJobState.Completed, 60L), (job!.State, job.WrittenCandles));
        Assert.Equal(At(1, 3, 5), outage.ResolvedAt);
        Assert.Equal(3600, outage.RepairSeconds);
        var stale = all.Single(i => i.Symbol == late && i.Kind == IncidentKind.Stale);
        Assert.Equal((At(1, 2, 10), At(1, 3, 5)), (stale.OpenedAt, stale.ResolvedAt!.Value));
        Assert.Equal(IncidentEventKind.Resolved, outage.Timeline[^1].Event);
        Assert.Equal(outage.BackfillJobId, outage.Timeline[^1].BackfillJobId);

        // The empty hour stays resolved: later audits report it sourceEmpty and open nothing.
        var empty = all.Single(i => i.Symbol == ok && i.Kind == IncidentKind.Gap && i.Cause == ResolutionCause.SourceEmpty);
        Assert.Equal((At(2, 4), 60), (empty.From, empty.Size));
        Assert.True(empty.ResolvedAt < At(2, 5, 15));
        Assert.Equal((At(2, 4), true), (Assert.Single(okAfterEmptyHour!.Gaps).From, okAfterEmptyHour.Gaps[0].SourceEmpty));

        var duplicates = all.Single(i => i.Kind == IncidentKind.Duplicate);
        Assert.Equal((10, At(3, 6, 30)), (duplicates.Size, duplicates.OpenedAt));
        Assert.Equal(300, duplicates.RepairSeconds); // removed by the audit that found them; the next one is clean

        var lateWrite = all.Single(i => i.Symbol == ok && i.Kind == IncidentKind.Gap && i.Cause == ResolutionCause.LateWrite);
        Assert.Equal((lateCandle, 2, lateCandle.AddMinutes(5), 300.0), (lateWrite.From, lateWrite.Size, lateWrite.OpenedAt, lateWrite.RepairSeconds!.Value));

        // SLIs over the week. Completeness: one event per candle whose deadline (close + 2 min) passed after the
        // first audit (day 0, 01:00), i.e. opens 00:58 of day 0 to 23:57 of day 6. LATE's candles 02:00–02:57 of day 1
        // were missing at the first audit after their deadline; 02:58 and 02:59 (deadlines 03:01, 03:02) were back by
        // the 03:05 audit. OK's empty hour was bad until Binance confirmed it (the 05:00 audit's job; 04:58 and 04:59
        // fall after it and are no events), and the two late candles were missing when their deadline passed.
        // Freshness: one event per minute after the first audit; the audits 02:05 to 03:00 of day 1 found LATE's
        // newest candle too old (twelve 5-minute stretches), and 04:10 to 05:00 of day 2 OK's.
        const double Events = (7 * 24 * 60) - 58 - 2;
        Assert.Equal((Events, 58.0), Bad(metrics.CandlesTotal, metrics.CandlesGood, late));
        Assert.Equal((Events - 2, 60.0), Bad(metrics.CandlesTotal, metrics.CandlesGood, ok));
        Assert.Equal(((7 * 24 * 60) - 60.0, 60.0), Bad(metrics.FreshnessMinutesTotal, metrics.FreshnessMinutesGood, late));
        Assert.Equal(((7 * 24 * 60) - 60.0, 60.0), Bad(metrics.FreshnessMinutesTotal, metrics.FreshnessMinutesGood, ok));

        // What a real Prometheus, given the week's samples and the rule file, fires at a moment of each phase.
        var firing = await scrapes.FiringAlertsAsync(promtool, Path.Combine(_directory, "prometheus"),
        [
            At(0, 12), At(1, 2, 40), At(1, 3, 20), At(2, 4, 40), At(2, 5, 20), At(2, 6), At(3, 6, 40), At(4, 12, 5), At(4, 12, 30), At(5, 7, 40), At(5, 7, 50), At(6, 23, 59),
        ], Ct);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"week of {audits} audit cycles: {week.TotalSeconds:F1} s; blocks, Prometheus and its queries: {(clock.Elapsed - week).TotalSeconds:F1} s"));
        var phases = string.Join("\n", firing.Select(f => $"{f.Key - Start:d\\.hh\\:mm}: {f.Value}")).Replace(late, "LATE", StringComparison.Ordinal).Replace(ok, "OK", StringComparison.Ordinal);
        string[] expected =
        [
            // Day 0, on time: nothing.
            "0.12:00: ",
            // Day 1, LATE's hour-long outage: pages (1 h and 5 m over 14.4x) and tickets; OK, on time, quiet.
            "1.02:40: DataManagerCompletenessBudgetBurnFast LATE, DataManagerCompletenessBudgetBurnSlow LATE, DataManagerFreshnessBudgetBurnFast LATE, DataManagerFreshnessBudgetBurnSlow LATE",
            // Repaired: the pages stop, the tickets (6 h and 30 m windows) linger.
            "1.03:20: DataManagerCompletenessBudgetBurnSlow LATE, DataManagerFreshnessBudgetBurnSlow LATE",
            // Day 2, OK's hour Binance turns out to have no data for pages too: nobody knew yet that the data was
            // never there, and its candles counted bad before the backfill confirmed the hour empty.
            "2.04:40: DataManagerCompletenessBudgetBurnFast OK, DataManagerCompletenessBudgetBurnSlow OK, DataManagerFreshnessBudgetBurnFast OK, DataManagerFreshnessBudgetBurnSlow OK",
            // Confirmed empty (05:05): no more bad events, the pages stop; the tickets linger while the 30 m window
            // still holds bad events, and stop once it does not.
            "2.05:20: DataManagerCompletenessBudgetBurnSlow OK, DataManagerFreshnessBudgetBurnSlow OK",
            "2.06:00: ",
            // Day 3, after the duplicate burst: duplicates spend no budget.
            "3.06:40: ",
            // Day 4, LATE silent on the feed while OK flows: its own alert, nothing else.
            "4.12:05: DataManagerSymbolSilent LATE",
            "4.12:30: ",
            // Day 5, two candles late: no page (fewer than three bad candles in the hour), no ticket (under 6x over 6 h).
            "5.07:40: ",
            "5.07:50: ",
            "6.23:59: ",
        ];
        Assert.True(phases == string.Join("\n", expected), phases);
    }

    private static (double Total, double Bad) Bad(Prometheus.Counter total, Prometheus.Counter good, string symbol) =>
        (total.WithLabels(symbol, "1m").Value, total.WithLabels(symbol, "1m").Value - good.WithLabels(symbol, "1m").Value);

    /// <summary>The series the alerts read, once a minute, with their timestamps, as Prometheus would scrape them.</summary>
    private sealed class Scrapes
    {
        private readonly SortedDictionary<string, StringBuilder> _series = new(StringComparer.Ordinal);

        public void Sample(DateTimeOffset at, IncidentMetrics metrics, TrackerMetrics feed, IReadOnlyList<string> symbols)
        {
            var timestamp = at.ToUnixTimeSeconds();
            foreach (var symbol in symbols)
            {
                var labels = $"{{symbol=\"{symbol}\",timeframe=\"1m\"}}";
                Add("data_manager_slo_candles_total" + labels, timestamp, metrics.CandlesTotal.WithLabels(symbol, "1m").Value);
                Add("data_manager_slo_candles_good_total" + labels, timestamp, metrics.CandlesGood.WithLabels(symbol, "1m").Value);
                Add("data_manager_slo_freshness_minutes_total" + labels, timestamp, metrics.FreshnessMinutesTotal.WithLabels(symbol, "1m").Value);
                Add("data_manager_slo_freshness_minutes_good_total" + labels, timestamp, metrics.FreshnessMinutesGood.WithLabels(symbol, "1m").Value);
                Add($"data_manager_last_message_timestamp_seconds{{symbol=\"{symbol}\"}}", timestamp, feed.LastMessage.WithLabels(symbol).Value);
                Add($"data_manager_messages_received_total{{event_type=\"aggTrade\",symbol=\"{symbol}\"}}", timestamp, feed.Received.WithLabels("aggTrade", symbol).Value);
            }

            foreach (var slo in new[] { "completeness", "freshness" })
            {
                Add($"data_manager_slo_objective_ratio{{slo=\"{slo}\"}}", timestamp, metrics.Objective.WithLabels(slo).Value);
            }
        }

        private void Add(string series, long timestamp, double value)
        {
            if (!_series.TryGetValue(series, out var lines))
            {
                _series[series] = lines = new StringBuilder();
            }

            lines.Append(CultureInfo.InvariantCulture, $"{series} {value:R} {timestamp}\n");
        }

        /// <summary>
        /// For each moment asked, the alerts of the rule file's SLO group firing then ("Name SYMBOL, …", sorted),
        /// as decided by a real Prometheus: the samples become TSDB blocks (<c>promtool tsdb create-blocks-from
        /// openmetrics</c>), a Prometheus starts on them with the rule file, and each alert's expression, as that
        /// server loaded it (recording rules it reads inlined: they have no history here), is queried at every
        /// evaluation (each minute) of its <c>for:</c> period up to the moment; firing = true at all of them.
        /// </summary>
        public async Task<Dictionary<DateTimeOffset, string>> FiringAlertsAsync(string promtool, string directory, IReadOnlyList<DateTimeOffset> moments, CancellationToken cancellationToken)
        {
            Directory.CreateDirectory(directory);
            var input = Path.Combine(directory, "samples.om");
            await using (var writer = new StreamWriter(input))
            {
                foreach (var lines in _series.Values)
                {
                    await writer.WriteAsync(lines, cancellationToken);
                }

                await writer.WriteAsync("# EOF\n");
            }

            var tsdb = Path.Combine(directory, "tsdb");
            var created = await LocalProcess.RunAsync(promtool, ["tsdb", "create-blocks-from", "openmetrics", "--quiet", input, tsdb], TimeSpan.FromMinutes(5));
            Assert.True(created.ExitCode == 0, "promtool tsdb create-blocks-from openmetrics: " + created.StandardOutput + created.StandardError);
            var rule = Manifests.ParseAll(await File.ReadAllTextAsync(Manifests.Directory("base/prometheusrule.yaml"), cancellationToken)).Single();
            await using var prometheus = await LocalPrometheus.StartOnTsdbAsync(tsdb, Manifests.ToYaml(rule["spec"]!));

            var group = (await prometheus.QueryApiAsync("/api/v1/rules", cancellationToken))["data"]!["groups"]!.AsArray()
                .Single(g => (string)g!["name"]! == "data-manager.slo")!["rules"]!.AsArray().Select(r => r!.AsObject()).ToList();
            var recorded = group.Where(r => (string)r["type"]! == "recording").ToDictionary(r => (string)r["name"]!, r => (string)r["query"]!);
            var alerts = group.Where(r => (string)r["type"]! == "alerting")
                .Select(r => (Name: (string)r["name"]!, Expression: Inline((string)r["query"]!, recorded), For: TimeSpan.FromSeconds((double)r["duration"]!)))
                .ToList();
            Assert.Contains(alerts, a => a.Name == "DataManagerCompletenessBudgetBurnFast");
            Assert.Contains(alerts, a => a.Name == "DataManagerSymbolSilent");

            var result = new Dictionary<DateTimeOffset, string>();
            foreach (var moment in moments)
            {
                var firing = new List<string>();
                foreach (var alert in alerts)
                {
                    var answer = await prometheus.QueryRangeAsync(alert.Expression, moment - alert.For, moment, TimeSpan.FromMinutes(1), cancellationToken);
                    Assert.True((string?)answer["status"] == "success", $"{alert.Name}: {answer.ToJsonString()}");
                    var evaluations = (int)(alert.For / TimeSpan.FromMinutes(1)) + 1;
                    firing.AddRange(answer["data"]!["result"]!.AsArray()
                        .Where(s => s!["values"]!.AsArray().Count == evaluations)
                        .Select(s => $"{alert.Name} {(string?)s!["metric"]!["symbol"]}"));
                }

                result[moment] = string.Join(", ", firing.Order(StringComparer.Ordinal));
            }

            return result;
        }

        // A recording rule's name in an expression, replaced by its own expression (until none is left).
        private static string Inline(string expression, IReadOnlyDictionary<string, string> recorded)
        {
            for (var pass = 0; pass < 5; pass++)
            {
                foreach (var (name, query) in recorded)
                {
                    expression = Regex.Replace(expression, $"(?<![\\w:]){Regex.Escape(name)}(?![\\w:])", _ => $"({query})");
                }
            }

            return expression;
        }
    }

    public void Dispose() => CandleDatabases.RemoveDirectory(_directory);
}
