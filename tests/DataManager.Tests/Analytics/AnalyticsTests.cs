using System.Net;
using System.Net.Http.Json;
using DataManager.Analytics;
using DataManager.Candles;
using DataManager.Storage;
using DataManager.Tests.Infrastructure;

namespace DataManager.Tests.Analytics;

public sealed class AnalyticsCalculatorTests
{
    private static SeriesData Series(int count, Func<int, decimal> close)
    {
        var h1 = Timeframe.Parse("1h");
        var start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        return new SeriesData(new SeriesKey("BTCUSDT", h1), [.. Enumerable.Range(0, count).Select(i =>
            DemoCandles.Make("BTCUSDT", h1, start.AddHours(i), close(i), close(i) + 1, close(i) - 1, close(i), 10 + (i % 3), 1))]);
    }

    [Fact]
    public void Every_group_is_computed_and_short_series_get_reasons_not_numbers()
    {
        var groups = AnalyticsCalculator.Compute(Series(30, i => 100 + (i % 5)));
        Assert.Equal(AnalyticsCalculator.Groups, groups.Select(g => g.Metric).ToArray());
        var trend = groups.Single(g => g.Metric == "trend");
        Assert.NotNull(trend.Values["sma20"]);
        Assert.Null(trend.Values["sma50"]);
        Assert.Equal("needs 50 candles, have 30", trend.Reasons["sma50"]);
        Assert.Equal("needs 51 candles, have 30", trend.Reasons["crossover"]);
        Assert.NotNull(groups.Single(g => g.Metric == "deviation").Values["rsi14"]);
    }

    [Fact]
    public void A_steady_climb_is_trending_and_a_choppy_flat_series_is_not()
    {
        // +1 % every candle with a little noise: the drift dwarfs the noise.
        var climbing = AnalyticsCalculator.Compute(Series(120, i => Math.Round(100m * (decimal)Math.Pow(1.01, i) * (i % 2 == 0 ? 1.001m : 0.999m), 4)));
        Assert.Equal("trending", climbing.Single(g => g.Metric == "regime").Labels["regime"]);
        var choppy = AnalyticsCalculator.Compute(Series(120, i => i % 2 == 0 ? 100m : 100.2m));
        Assert.Equal("ranging", choppy.Single(g => g.Metric == "regime").Labels["regime"]);
    }

    [Fact]
    public void Duplicated_open_times_count_once_and_correlation_uses_shared_times()
    {
        var a = Series(10, i => 100 + i);
        var h1 = Timeframe.Parse("1h");
        var start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        // B misses the 4th candle and holds a duplicate of the 2nd: 9 distinct open times, all shared with A.
        var rows = Enumerable.Range(0, 10).Where(i => i != 3).Select(i => DemoCandles.Make("ETHUSDT", h1, start.AddHours(i), 50 + i, 51 + i, 49 + i, 50 + i, 1, 1)).ToList();
        rows.Add(rows[1] with { Id = "dup" });
        var b = new SeriesData(new SeriesKey("ETHUSDT", h1), rows);
        Assert.Equal(9, b.Close.Length);
        var correlation = AnalyticsCalculator.Correlation([b, a]);
        Assert.True(correlation.Values["BTCUSDT~ETHUSDT"] > 0.9); // both climb on their shared hours
    }

    [Fact]
    public void Ohlcv_rows_make_the_same_series_as_candles_and_keep_the_first_row_of_an_open_time()
    {
        var h1 = Timeframe.Parse("1h");
        var start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        var candles = Enumerable.Range(0, 5).Select(i => DemoCandles.Make("ETHUSDT", h1, start.AddHours(i), 50 + i, 51 + i, 49 + i, 50.5m + i, 2 + i, 1)).ToList();
        candles.Insert(2, candles[1] with { Id = "dup", Close = 7m });
        OhlcvRows Rows(IEnumerable<Candle> c) => new([.. c.Select(x => x.Timestamp)], [.. c.Select(x => (double)x.Open)], [.. c.Select(x => (double)x.High)],
            [.. c.Select(x => (double)x.Low)], [.. c.Select(x => (double)x.Close)], [.. c.Select(x => (double)x.Volume)]);
        var key = new SeriesKey("ETHUSDT", h1);

        var fromRows = new SeriesData(key, Rows(candles));
        var fromCandles = new SeriesData(key, candles);

        Assert.Equal(5, fromRows.Close.Length);
        Assert.Equal(51.5, fromRows.Close[1]); // the first row at 01:00, not the duplicate after it
        foreach (var (a, b) in new[] { (fromRows.OpenTimes.Select(t => (double)t.Ticks), fromCandles.OpenTimes.Select(t => (double)t.Ticks)),
            (fromRows.Open, fromCandles.Open), (fromRows.High, fromCandles.High), (fromRows.Low, fromCandles.Low), (fromRows.Close, fromCandles.Close), (fromRows.Volume, fromCandles.Volume) })
        {
            Assert.Equal(b, a);
        }

        var unique = Rows(candles.Where(c => c.Id != "dup"));
        Assert.Same(unique.Close, new SeriesData(key, unique).Close); // one row per open time: no copy
    }

    [Fact]
    public void Correlation_on_the_same_open_times_is_pearson_of_the_returns_and_mixed_times_still_align()
    {
        var random = new Random(5);
        var h1 = Timeframe.Parse("1h");
        var start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        CorrelationInput Make(string symbol, int count, int skip = -1)
        {
            var times = Enumerable.Range(0, count).Where(i => i != skip).Select(i => start.AddHours(i)).ToArray();
            return new CorrelationInput(symbol, times, [.. times.Select(_ => 100 + (random.NextDouble() * 10))]);
        }

        CorrelationInput[] inputs = [Make("AAAUSDT", 60), Make("BBBUSDT", 60), Make("CCCUSDT", 60, skip: 7), Make("DDDUSDT", 3),
            new CorrelationInput("EEEUSDT", [.. Enumerable.Range(0, 60).Select(i => start.AddHours(i))], [.. Enumerable.Repeat(5.0, 60)])];
        var matrix = AnalyticsCalculator.Correlation(inputs);
        Assert.Equal(10, matrix.Values.Count);
        foreach (var (x, y) in inputs.SelectMany((x, i) => inputs.Skip(i + 1).Select(y => (x, y))))
        {
            var shared = x.OpenTimes.Intersect(y.OpenTimes).ToHashSet();
            var expected = AnalyticsFormulas.Pearson(
                AnalyticsFormulas.LogReturns([.. x.OpenTimes.Select((t, i) => (t, i)).Where(p => shared.Contains(p.t)).Select(p => x.Closes[p.i])]),
                AnalyticsFormulas.LogReturns([.. y.OpenTimes.Select((t, i) => (t, i)).Where(p => shared.Contains(p.t)).Select(p => y.Closes[p.i])]));
            var name = $"{x.Symbol}~{y.Symbol}";
            Assert.Equal(expected.Value is null, matrix.Values[name] is null);
            if (expected.Value is { } value)
            {
                Assert.Equal(value, matrix.Values[name]!.Value, 12);
            }
            else
            {
                Assert.Equal(expected.Reason, matrix.Reasons[name]);
            }
        }

        Assert.Equal("no variance", matrix.Reasons["AAAUSDT~EEEUSDT"]);
        Assert.Equal("needs 3 aligned returns, have 2", matrix.Reasons["AAAUSDT~DDDUSDT"]);
    }
}

public sealed class AnalyticsServiceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_demo_serves_every_group_history_and_correlation_after_a_cycle()
    {
        await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["ENABLE_AUDITOR"] = "false",
            ["ENABLE_LEADER_ELECTION"] = "false",
            ["INITIAL_STARTUP_DELAY"] = "0",
            ["ANALYTICS_INTERVAL"] = "1",
        });
        SeriesAnalytics? latest = null;
        for (var i = 0; i < 200 && latest is null; i++)
        {
            using var response = await host.Client.GetAsync("/analytics/BTCUSDT/1h", Ct);
            latest = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<SeriesAnalytics>(StoreJson.Options, Ct) : null;
            await Task.Delay(latest is null ? 50 : 0, Ct);
        }

        Assert.NotNull(latest);
        Assert.Equal(["deviation", "regime", "trend", "volatility", "volume"], latest.Groups.Keys.Order().ToArray());
        Assert.All(latest.Groups["trend"].Values, v => Assert.NotNull(v.Value)); // 500 candles: every indicator has enough
        Assert.Contains(latest.Groups["regime"].Labels["regime"], new[] { "trending", "ranging", "volatile" });

        var history = await host.Client.GetFromJsonAsync<MetricHistory>("/analytics/BTCUSDT/1h/volatility?limit=5", StoreJson.Options, Ct);
        Assert.NotEmpty(history!.History);
        var correlation = await host.Client.GetFromJsonAsync<CorrelationMatrix>("/analytics/correlation/1h", StoreJson.Options, Ct);
        Assert.Equal(3, correlation!.Pairs.Count);
        Assert.All(correlation.Pairs, p => Assert.InRange(p.Correlation!.Value, -1, 1));

        using (var missing = await host.Client.GetAsync("/analytics/XRPUSDT/1h", Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        }

        using (var bad = await host.Client.GetAsync("/analytics/BTCUSDT/1h/vibes", Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        var metrics = await host.Client.GetStringAsync("/metrics", Ct);
        foreach (var name in new[] { "data_manager_analytics_cycle_seconds_bucket", "data_manager_analytics_last_success_timestamp_seconds", "data_manager_volatility_annualized{symbol=\"BTCUSDT\",timeframe=\"1h\"}", "data_manager_regime{symbol=\"BTCUSDT\",timeframe=\"1h\",regime=" })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_follower_replica_does_not_compute()
    {
        var dataDir = ServerAvailability.TempDirectory("dm-analytics-follower");
        var settings = new Dictionary<string, string?>
        {
            ["DATA_DIR"] = dataDir,
            ["ENABLE_AUDITOR"] = "false",
            ["INITIAL_STARTUP_DELAY"] = "0",
            ["ANALYTICS_INTERVAL"] = "0.5",
            ["LEADER_ELECTION_HEARTBEAT_INTERVAL"] = "0.1",
            ["LEADER_ELECTION_RENEW_DEADLINE"] = "2",
            ["LEADER_ELECTION_TIMEOUT"] = "3",
        };
        await using var first = await ServiceHost.StartAsync(new Dictionary<string, string?>(settings) { ["POD_NAME"] = "pod-a" });
        await using var second = await ServiceHost.StartAsync(new Dictionary<string, string?>(settings) { ["POD_NAME"] = "pod-b" });
        var schedulers = new[] { first, second }.Select(h => (Host: h, Scheduler: (AnalyticsScheduler)h.Services.GetService(typeof(AnalyticsScheduler))!)).ToArray();
        for (var i = 0; i < 200 && schedulers.All(s => s.Scheduler.Cycles == 0); i++)
        {
            await Task.Delay(50, Ct);
        }

        await Task.Delay(1500, Ct); // several intervals
        var leaders = 0;
        foreach (var (host, scheduler) in schedulers)
        {
            var leader = await host.Client.GetFromJsonAsync<DataManager.Leadership.LeaderStatusResponse>("/health/leader", StoreJson.Options, Ct);
            leaders += leader!.IsLeader ? 1 : 0;
            Assert.Equal(leader.IsLeader, scheduler.Cycles > 0);
        }

        Assert.Equal(1, leaders);
        CandleDatabases.RemoveDirectory(dataDir);
    }
}
