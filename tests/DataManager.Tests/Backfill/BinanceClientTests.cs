using System.Diagnostics;
using System.Net;
using System.Text;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Hosting;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Backfill;

public sealed class BinanceKlinesTests
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");

    [Theory]
    [InlineData(1, 1)]
    [InlineData(99, 1)]
    [InlineData(100, 2)]
    [InlineData(499, 2)]
    [InlineData(500, 5)]
    [InlineData(1000, 5)]
    [InlineData(1001, 10)]
    [InlineData(1500, 10)]
    public void Weight_follows_the_limit(int limit, int weight) => Assert.Equal(weight, BinanceWeights.ForLimit(limit));

    [Fact]
    public void A_range_is_cut_into_aligned_requests()
    {
        var from = new DateTimeOffset(2026, 11, 22, 0, 0, 30, TimeSpan.Zero); // not aligned: the first candle is 00:01
        var plan = BinanceWeights.Plan(from, from.AddSeconds(30).AddMinutes(10), TimeSpan.FromMinutes(1), perRequest: 4).ToList();
        var minute = 60_000L;
        var first = new DateTimeOffset(2026, 11, 22, 0, 1, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        // 00:01 … 00:10 (the 00:11 candle opens at to): 10 candles in 4 + 4 + 2
        Assert.Equal(
        [
            new KlineRequest(first, first + (3 * minute), 4),
            new KlineRequest(first + (4 * minute), first + (7 * minute), 4),
            new KlineRequest(first + (8 * minute), first + (9 * minute), 2),
        ], plan);
        Assert.Equal(87, BinanceWeights.Plan(from, from.AddDays(30), TimeSpan.FromMinutes(1)).Count()); // 43,200 candles in 499s
    }

    [Fact]
    public void Rows_become_candles_with_exact_decimals()
    {
        var json = """[[1732300020000,"97000.12345678","97010.5","96990.00000001","97005.1","12.5",1732300079999,"1212563.5",42,"6.25","606281.75","0"]]"""u8;
        var candle = Assert.Single(BinanceKlines.Parse(json, "BTCUSDT", M1, DateTime.UnixEpoch, "v"));
        Assert.Equal(("BTCUSDT_1732300020000", 97000.12345678m, 96990.00000001m, 42), (candle.Id, candle.Open, candle.Low, candle.NumberOfTrades));
        Assert.Equal(new DateTime(2024, 11, 22, 18, 27, 0, DateTimeKind.Utc), candle.OpenTime);
        Assert.Equal(candle.OpenTime.AddMinutes(1).AddMilliseconds(-1), candle.CloseTime);
        Assert.Equal("data-manager-backfill", candle.Source);
    }

    [Theory]
    [InlineData("""[[1732300020000,"abc","1","1","1","1",1732300079999,"1",1,"1","1","0"]]""", "field 1 is not a decimal")]
    [InlineData("""[[1732300020000,"1","1","1","1","1"]]""", "at least 11 fields")]
    [InlineData("""[[1732300021000,"1","1","1","1","1",1732300079999,"1",1,"1","1","0"]]""", "not on the 1m grid")]
    [InlineData("""[[1732300020000,"1",""", "not JSON")]
    [InlineData("""{"code":-1121,"msg":"Invalid symbol."}""", "not an array")]
    public void A_malformed_page_fails_whole(string json, string message)
    {
        var error = Assert.Throws<MalformedKlinesException>(() => BinanceKlines.Parse(Encoding.UTF8.GetBytes(json), "BTCUSDT", M1, DateTime.UnixEpoch, "v"));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}

public sealed class BinanceWeightLimiterTests
{
    [Fact]
    public async Task A_full_minute_waits_for_the_next_one_and_the_server_count_wins()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 10, 0, 10, TimeSpan.Zero));
        var metrics = new BackfillMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()));
        var limiter = new BinanceWeightLimiter(Options.Create(new BackfillOptions { BinanceRateLimit = 10 }), metrics, time, NullLogger<BinanceWeightLimiter>.Instance);
        for (var i = 0; i < 5; i++)
        {
            await limiter.AcquireAsync(2, TestContext.Current.CancellationToken);
        }

        var sixth = limiter.AcquireAsync(2, TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromSeconds(40));
        Assert.False(sixth.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(11)); // 10:01:01, past the boundary and its margin
        await sixth.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        // The server says the IP used 9 this minute (the extractor too): only 1 left.
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK);
        response.Headers.Add("X-MBX-USED-WEIGHT-1M", "9");
        limiter.Observe(response);
        Assert.Equal((9.0, 1.0), (metrics.BinanceWeightUsed.Value, metrics.BinanceRequests.WithLabels("200").Value));
        await limiter.AcquireAsync(1, TestContext.Current.CancellationToken);
        Assert.Equal(10.0, metrics.BinanceWeightUsed.Value);
        Assert.False(limiter.AcquireAsync(1, TestContext.Current.CancellationToken).IsCompleted);
    }

    [Fact]
    public async Task A_429_or_418_holds_every_request_until_retry_after()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));
        var metrics = new BackfillMetrics(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()));
        var limiter = new BinanceWeightLimiter(Options.Create(new BackfillOptions { BinanceRateLimit = 2400 }), metrics, time, NullLogger<BinanceWeightLimiter>.Instance);
        using var banned = new HttpResponseMessage((System.Net.HttpStatusCode)418);
        banned.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(30));
        limiter.Observe(banned);
        Assert.Equal((1.0, 1.0), (metrics.BinanceBanned.Value, metrics.BinanceRequests.WithLabels("418").Value));
        var next = limiter.AcquireAsync(1, TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        await next.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(0.0, metrics.BinanceBanned.Value); // the ban is over
    }
}

/// <summary>The client through its real HTTP pipeline (retry, weight handler) against the fake Binance on loopback.</summary>
[Trait("Category", "Server")]
public sealed class BinanceClientTests
{
    private static readonly Timeframe M1 = Timeframe.Parse("1m");
    private static readonly DateTimeOffset Day = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BinanceClient Client(FakeBinance fake, int budget = 2400, double timeoutSeconds = 10) =>
        Services(fake, budget, timeoutSeconds).GetRequiredService<BinanceClient>();

    private static ServiceProvider Services(FakeBinance fake, int budget = 2400, double timeoutSeconds = 10)
    {
        var options = new BackfillOptions { BinanceBaseUrl = fake.Url, BinanceRateLimit = budget, BinanceRequestTimeout = TimeSpan.FromSeconds(timeoutSeconds) };
        return new ServiceCollection()
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            .AddSingleton(Options.Create(options))
            .AddMetricsRegistry()
            .AddBinanceClient(options)
            .BuildServiceProvider();
    }

    private static KlineRequest Page(int index, int limit = 499) =>
        new(Day.AddMinutes(index * limit).ToUnixTimeMilliseconds(), Day.AddMinutes(((index + 1) * limit) - 1).ToUnixTimeMilliseconds(), limit);

    [Fact]
    public async Task A_page_is_fetched_with_exact_prices()
    {
        await using var fake = await FakeBinance.StartAsync();
        var candles = await Client(fake).GetKlinesAsync("BTCUSDT", M1, Page(0), Ct);
        Assert.Equal(499, candles.Count);
        Assert.Equal(FakeBinance.PriceAt(Day.ToUnixTimeMilliseconds()), candles[0].Open);
        Assert.Equal(Day.UtcDateTime.AddMinutes(498), candles[^1].OpenTime);
    }

    [Fact]
    public async Task The_weight_travels_with_the_request_not_its_url()
    {
        await using var fake = await FakeBinance.StartAsync();
        var page = Page(0);
        using var meter = BinanceWeightMeter.Start();
        await Client(fake).GetKlinesAsync("BTCUSDT", M1, page, Ct);
        Assert.Equal(BinanceWeights.ForLimit(page.Limit), meter.TakeWeight());

        // Through the same pipeline, the weight given in the request's options is taken, whatever the URL says;
        // without it, the weight of Binance's default limit.
        await using var services = Services(fake);
        var http = services.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(BinanceClient));
        var url = $"/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={page.StartMs}&endTime={page.EndMs}&limit={page.Limit}";
        using (var weighed = new HttpRequestMessage(HttpMethod.Get, url))
        {
            weighed.Options.Set(BinanceWeights.RequestWeight, 7);
            using var response = await http.SendAsync(weighed, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(7, meter.TakeWeight());
        using (var unweighed = new HttpRequestMessage(HttpMethod.Get, url))
        {
            using var response = await http.SendAsync(unweighed, Ct);
        }

        Assert.Equal(BinanceWeights.ForLimit(BinanceWeights.DefaultLimit), meter.TakeWeight());
    }

    [Fact]
    public async Task Server_errors_and_slow_answers_are_retried()
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.Inject("500", "500", "slow");
        var candles = await Client(fake, timeoutSeconds: 0.5).GetKlinesAsync("BTCUSDT", M1, Page(1), Ct);
        Assert.Equal(499, candles.Count);
        Assert.Equal(4, fake.Requests);
    }

    [Theory]
    [InlineData("cut")]
    [InlineData("reset")]
    [InlineData("stall")]
    public async Task A_body_cut_reset_or_stalled_mid_way_is_retried_and_pays_its_weight_again(string fault)
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.Inject(fault, fault);
        var candles = await Client(fake, timeoutSeconds: 0.5).GetKlinesAsync("BTCUSDT", M1, Page(1), Ct);
        Assert.Equal(499, candles.Count);
        Assert.Equal(FakeBinance.PriceAt(Day.AddMinutes(499).ToUnixTimeMilliseconds()), candles[0].Open);
        Assert.Equal(3, fake.Requests);
        Assert.Equal(3 * 2, fake.WeightServed);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("bad_price")]
    public async Task A_malformed_page_is_asked_for_again_a_bounded_number_of_times_never_written(string fault)
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.Inject(fault);
        Assert.Equal(499, (await Client(fake).GetKlinesAsync("BTCUSDT", M1, Page(0), Ct)).Count);
        Assert.Equal(2, fake.Requests);

        fake.Inject(fault, fault, fault);
        var error = await Assert.ThrowsAsync<MalformedKlinesException>(() => Client(fake).GetKlinesAsync("BTCUSDT", M1, Page(0), Ct));
        Assert.Contains($"malformed klines {BinanceClient.MalformedAttempts} times in a row", error.Message, StringComparison.Ordinal);
        Assert.Equal(2 + BinanceClient.MalformedAttempts, fake.Requests);
    }

    [Fact]
    public async Task An_empty_page_is_empty()
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.Inject("empty");
        Assert.Empty(await Client(fake).GetKlinesAsync("BTCUSDT", M1, Page(0), Ct));
    }

    [Fact]
    public async Task Over_the_budget_429s_are_waited_out_and_never_earn_a_ban()
    {
        await using var fake = await FakeBinance.StartAsync();
        // 8 pages of weight 2 against 6 a window: at least two windows' worth over the budget, so 429s come even if the
        // requests straddle a window boundary. Retry-After is the window, as Binance sends it (until the budget
        // resets), so the requests a pause releases meet a fresh budget; the ban threshold is never within reach.
        fake.Budget = 6;
        fake.WindowSeconds = 2;
        fake.RetryAfterSeconds = 2;
        var client = Client(fake); // its own budget is larger than the server's: only 429s teach it
        var pages = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => client.GetKlinesAsync("BTCUSDT", M1, Page(i), Ct)));
        Assert.All(pages, p => Assert.Equal(499, p.Count));
        Assert.True(fake.TooManyRequests > 0);
        Assert.Equal(0, fake.Bans);
    }

    [Fact]
    public async Task A_ban_fails_the_request_and_holds_the_next_until_it_ends()
    {
        await using var fake = await FakeBinance.StartAsync();
        fake.Inject("418");
        var client = Client(fake);
        await Assert.ThrowsAsync<BinanceBannedException>(() => client.GetKlinesAsync("BTCUSDT", M1, Page(0), Ct));
        var watch = Stopwatch.StartNew();
        Assert.Equal(499, (await client.GetKlinesAsync("BTCUSDT", M1, Page(0), Ct)).Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(1.5), $"the next request went out after {watch.Elapsed} of a 2 s ban");
    }
}
