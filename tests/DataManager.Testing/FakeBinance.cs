using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using DataManager.Backfill;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace DataManager.Testing;

/// <summary>
/// A local Binance USDⓈ-M klines server (a real HTTP server on loopback, not a mocked handler): deterministic
/// klines, a per-minute weight budget answered with 429 + Retry-After, 418 for a client that keeps calling
/// while told to wait, and injectable faults.
/// </summary>
public sealed class FakeBinance : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _faults = new();
    private readonly Lock _gate = new();
    private long _minute = -1;
    private int _used;
    private DateTimeOffset _retryAfterUntil = DateTimeOffset.MinValue;
    private int _ignoredWaits;

    private FakeBinance(WebApplication app) => _app = app;

    /// <summary>Where it listens: a loopback port Kestrel picked, known once started.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Weight per minute before 429s.</summary>
    public int Budget { get; set; } = 2400;

    /// <summary>Added to every answer (a remote exchange is not on loopback).</summary>
    public int LatencyMs { get; set; }

    /// <summary>Every klines answer waits for this task: a test holds the pages of a job it wants caught mid-run.</summary>
    public Task Hold { get; set; } = Task.CompletedTask;

    /// <summary>Weight the server has counted in total.</summary>
    public int WeightServed => Volatile.Read(ref _weightServed);

    /// <summary>Length of the budget window (Binance's is a minute; tests shorten it).</summary>
    public int WindowSeconds { get; set; } = 60;

    /// <summary>Retry-After given with a 429 (short, so tests run fast).</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Requests made while told to wait before the IP is banned (418); requests already in flight when a 429 is sent count too.</summary>
    public int BanAfterIgnoredWaits { get; set; } = 10;

    /// <summary>Open-time ranges the exchange has no data for (outages, before listing).</summary>
    public List<(DateTime From, DateTime To)> Outages { get; } = [];

    private int _requests;
    private int _weightServed;
    private int _tooManyRequests;
    private int _bans;

    public int Requests => Volatile.Read(ref _requests);

    public int TooManyRequests => Volatile.Read(ref _tooManyRequests);

    public int Bans => Volatile.Read(ref _bans);

    public static async Task<FakeBinance> StartAsync()
    {
        // No configuration files to reload: a watcher on the working directory costs CPU in load runs for nothing.
        var builder = WebApplication.CreateSlimBuilder(["--hostBuilder:reloadConfigOnChange=false"]);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeBinance(app);
        app.MapGet("/fapi/v1/klines", fake.KlinesAsync);
        await app.StartAsync();
        fake.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
        return fake;
    }

    /// <summary>How long a <c>stall</c> fault goes silent mid-body.</summary>
    public int StallMs { get; set; } = 1500;

    /// <summary>
    /// Queues faults for the next requests: <c>500</c>, <c>slow</c>, <c>truncated</c> (complete, malformed JSON),
    /// <c>empty</c>, <c>bad_price</c>, <c>418</c>, and body faults: <c>cut</c> (closed before its Content-Length),
    /// <c>reset</c> (a TCP reset mid-body), <c>stall</c> (silent mid-body for <see cref="StallMs"/>).
    /// </summary>
    public void Inject(params string[] faults)
    {
        foreach (var fault in faults)
        {
            _faults.Enqueue(fault);
        }
    }

    private async Task KlinesAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var query = context.Request.Query;
        var limit = int.TryParse(query["limit"], CultureInfo.InvariantCulture, out var l) ? l : 500;
        var weight = BinanceWeights.ForLimit(limit);
        int used;
        lock (_gate)
        {
            var now = DateTimeOffset.UtcNow;
            var minute = now.ToUnixTimeSeconds() / WindowSeconds;
            if (minute != _minute)
            {
                (_minute, _used) = (minute, 0);
            }

            if (now < _retryAfterUntil && ++_ignoredWaits >= BanAfterIgnoredWaits)
            {
                Interlocked.Increment(ref _bans);
                context.Response.StatusCode = 418;
                context.Response.Headers.RetryAfter = "120";
                return;
            }

            _used += weight;
            used = _used;
            if (_used > Budget)
            {
                Interlocked.Increment(ref _tooManyRequests);
                _retryAfterUntil = now.AddSeconds(RetryAfterSeconds);
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                context.Response.Headers["X-MBX-USED-WEIGHT-1M"] = used.ToString(CultureInfo.InvariantCulture);
                return;
            }

            _ignoredWaits = 0;
        }

        Interlocked.Add(ref _weightServed, weight);
        await Hold.WaitAsync(context.RequestAborted);
        if (LatencyMs > 0)
        {
            await Task.Delay(LatencyMs, context.RequestAborted);
        }

        context.Response.Headers["X-MBX-USED-WEIGHT-1M"] = used.ToString(CultureInfo.InvariantCulture);
        _faults.TryDequeue(out var fault);
        switch (fault)
        {
            case "500":
                context.Response.StatusCode = 500;
                return;
            case "418":
                Interlocked.Increment(ref _bans);
                context.Response.StatusCode = 418;
                context.Response.Headers.RetryAfter = "2";
                return;
            case "slow":
                await Task.Delay(1500, context.RequestAborted);
                break;
        }

        var symbol = query["symbol"].ToString();
        var interval = DataManager.Candles.Timeframe.Parse(query["interval"].ToString()).Interval;
        var start = long.Parse(query["startTime"]!, CultureInfo.InvariantCulture);
        var end = long.Parse(query["endTime"]!, CultureInfo.InvariantCulture);
        var rows = new List<string>();
        var step = (long)interval.TotalMilliseconds;
        // Like Binance: nothing opens in the future; the candle still open is answered (not final yet).
        var last = Math.Min(end, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        for (var open = (start + step - 1) / step * step; open <= last && rows.Count < limit && fault != "empty"; open += step)
        {
            var time = DateTime.UnixEpoch.AddMilliseconds(open);
            if (Outages.Any(o => time >= o.From && time < o.To))
            {
                continue;
            }

            rows.Add(Row(symbol, open, step, fault == "bad_price" && rows.Count == 1));
        }

        var json = "[" + string.Join(",", rows) + "]";
        if (fault == "truncated")
        {
            json = json[..(json.Length / 2)];
        }

        context.Response.ContentType = "application/json";
        var body = Encoding.UTF8.GetBytes(json);
        switch (fault)
        {
            case "cut": // the Content-Length promised, half of it sent, the connection closed
                context.Response.ContentLength = body.Length;
                await context.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                context.Abort();
                return;
            case "reset": // half of a chunked body, then a TCP reset (RST, not FIN)
                await context.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                if (context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket is { } socket)
                {
                    socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
                    socket.Close();
                }

                context.Abort();
                return;
            case "stall": // half the body, then silence for StallMs, then the rest
                context.Response.ContentLength = body.Length;
                await context.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(StallMs, context.RequestAborted);
                await context.Response.Body.WriteAsync(body.AsMemory(body.Length / 2), context.RequestAborted);
                return;
        }

        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>The deterministic kline for an open time: prices from the time, as Binance sends them (strings).</summary>
    public static decimal PriceAt(long openMs) => 90_000m + (openMs / 60_000 % 1000) + 0.12345678m;

    private static string Row(string symbol, long open, long step, bool badPrice)
    {
        var price = PriceAt(open);
        string F(decimal value) => value.ToString(CultureInfo.InvariantCulture);
        var openText = badPrice ? "n/a" : F(price);
        _ = symbol;
        return $"[{open},\"{openText}\",\"{F(price + 5)}\",\"{F(price - 5)}\",\"{F(price + 1)}\",\"12.5\",{open + step - 1},\"1125000.5\",42,\"6.25\",\"562500.25\",\"0\"]";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
