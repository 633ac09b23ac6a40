using System.Globalization;
using System.Net;
using DataManager.Configuration;
using Microsoft.Extensions.Options;
using Prometheus;

namespace DataManager.Backfill;

/// <summary>
/// The request-weight budget shared by every Binance request of the process: BINANCE_RATE_LIMIT per minute
/// (Binance counts per UTC minute), corrected upwards from the server's <c>X-MBX-USED-WEIGHT-1M</c>. A 429
/// pauses every request until <c>Retry-After</c>; a 418 (an IP ban, for ignoring 429s) stops them all until
/// the ban ends and raises <c>data_manager_binance_banned</c>.
/// </summary>
public sealed partial class BinanceWeightLimiter(IOptions<BackfillOptions> options, TimeProvider time, ILogger<BinanceWeightLimiter> logger)
{
    internal static readonly Counter Requests = Metrics.CreateCounter("data_manager_binance_requests_total", "Binance REST requests, by HTTP status.", ["status"]);
    internal static readonly Gauge WeightUsed = Metrics.CreateGauge("data_manager_binance_weight_used", "Request weight used in the current minute (this process, or the server's count when higher).");
    internal static readonly Gauge Banned = Metrics.CreateGauge("data_manager_binance_banned", "1 while Binance bans this IP (HTTP 418), else 0.");

    private readonly Lock _gate = new();
    private long _minute = -1;
    private int _used;
    private DateTimeOffset _pausedUntil = DateTimeOffset.MinValue;
    private bool _banned;

    public int Budget => options.Value.BinanceRateLimit;

    /// <summary>Waits until <paramref name="weight"/> fits in the current minute and no pause or ban is in force, then takes it.</summary>
    public async Task AcquireAsync(int weight, CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_gate)
            {
                var now = time.GetUtcNow();
                if (now < _pausedUntil)
                {
                    wait = _pausedUntil - now;
                }
                else
                {
                    if (_banned)
                    {
                        _banned = false;
                        Banned.Set(0);
                    }

                    var minute = now.ToUnixTimeSeconds() / 60;
                    if (minute != _minute)
                    {
                        _minute = minute;
                        _used = 0;
                    }

                    if (_used + weight <= Budget || _used == 0)
                    {
                        _used += weight;
                        WeightUsed.Set(_used);
                        return;
                    }

                    // Full: wait for the next minute (with a little margin for the server's clock).
                    wait = DateTimeOffset.FromUnixTimeSeconds((minute + 1) * 60) - now + TimeSpan.FromMilliseconds(100);
                }
            }

            await Task.Delay(wait, time, cancellationToken);
        }
    }

    /// <summary>Takes in what a response says about the budget.</summary>
    public void Observe(HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        Requests.WithLabels(status.ToString(CultureInfo.InvariantCulture)).Inc();
        lock (_gate)
        {
            if (response.Headers.TryGetValues("X-MBX-USED-WEIGHT-1M", out var values)
                && int.TryParse(values.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var used) && used > _used)
            {
                _used = used; // the server counts requests this process did not make (the extractor shares the IP)
                WeightUsed.Set(_used);
            }

            if (status is 429 or 418)
            {
                var retryAfter = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(status == 418 ? 120 : 60);
                var until = time.GetUtcNow() + retryAfter;
                _pausedUntil = until > _pausedUntil ? until : _pausedUntil;
                if (status == 418)
                {
                    _banned = true;
                    Banned.Set(1);
                    LogBanned(logger, retryAfter.TotalSeconds);
                }
                else
                {
                    LogThrottled(logger, retryAfter.TotalSeconds);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Binance banned this IP (HTTP 418): every request waits {Seconds} s")]
    private static partial void LogBanned(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Binance answered 429: every request waits {Seconds} s (Retry-After)")]
    private static partial void LogThrottled(ILogger logger, double seconds);
}

/// <summary>
/// Takes each attempt's weight (from its <c>limit</c>) from the shared budget, sends it with its own timeout,
/// and reports the response to the limiter. Sits inside the retry handler, so retries pay their weight too.
/// </summary>
public sealed class BinanceWeightHandler(BinanceWeightLimiter limiter, IOptions<BackfillOptions> options) : DelegatingHandler
{
    private TimeSpan AttemptTimeout => options.Value.BinanceRequestTimeout;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var query = System.Web.HttpUtility.ParseQueryString(request.RequestUri?.Query ?? "");
        var limit = int.TryParse(query["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : 500;
        await limiter.AcquireAsync(BinanceWeights.ForLimit(limit), cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AttemptTimeout);
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Binance did not answer within {AttemptTimeout.TotalSeconds} s");
        }

        limiter.Observe(response);
        return response;
    }
}

/// <summary>Binance banned this IP (HTTP 418); requests resume when the ban ends.</summary>
public sealed class BinanceBannedException(string message) : Exception(message);

/// <summary>Binance USDⓈ-M futures klines, through the shared weight budget and the retry policy.</summary>
public sealed class BinanceClient(HttpClient http, TimeProvider time)
{
    public static readonly string ExtractorVersion = "data-manager " + (typeof(BinanceClient).Assembly.GetName().Version?.ToString(3) ?? "0");

    public async Task<IReadOnlyList<Candles.Candle>> GetKlinesAsync(string symbol, Candles.Timeframe timeframe, KlineRequest request, CancellationToken cancellationToken)
    {
        var url = string.Create(CultureInfo.InvariantCulture,
            $"/fapi/v1/klines?symbol={Uri.EscapeDataString(symbol)}&interval={timeframe.Name}&startTime={request.StartMs}&endTime={request.EndMs}&limit={request.Limit}");
        using var response = await http.GetAsync(url, cancellationToken);
        if (response.StatusCode == (HttpStatusCode)418)
        {
            throw new BinanceBannedException($"Binance banned this IP until {response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 120} s from now");
        }

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return BinanceKlines.Parse(body, symbol, timeframe, time.GetUtcNow().UtcDateTime, ExtractorVersion);
    }
}
