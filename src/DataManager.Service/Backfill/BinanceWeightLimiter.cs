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
/// Takes each attempt's weight (carried in the request's options, <see cref="BinanceWeights.RequestWeight"/>; a request
/// without it weighs what Binance's default limit does) from the shared budget, sends it with its own timeout,
/// reports the response to the limiter and reads the whole body within the same timeout. Sits inside the retry
/// handler, so retries pay their weight too, and a body cut, reset or stalled mid-way is retried like a 5xx.
/// </summary>
public sealed partial class BinanceWeightHandler(BinanceWeightLimiter limiter, IOptions<BackfillOptions> options, TimeProvider time, ILogger<BinanceWeightHandler> logger) : DelegatingHandler
{
    private TimeSpan AttemptTimeout => options.Value.BinanceRequestTimeout;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var weight = request.Options.TryGetValue(BinanceWeights.RequestWeight, out var given) ? given : BinanceWeights.ForLimit(BinanceWeights.DefaultLimit);
        await limiter.AcquireAsync(weight, cancellationToken);
        BinanceWeightMeter.Add(weight);
        var started = time.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AttemptTimeout);
        HttpResponseMessage? response = null;
        try
        {
            response = await base.SendAsync(request, timeout.Token);
            limiter.Observe(response);
            // Read here, not after the pipeline: a transport fault in the body is then one more retried attempt.
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            LogAnswered(logger, request.RequestUri?.PathAndQuery, (int)response.StatusCode, time.GetElapsedTime(started).TotalMilliseconds);
            return response;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            response?.Dispose();
            throw new TimeoutException(response is null
                ? $"Binance did not answer within {AttemptTimeout.TotalSeconds} s"
                : $"Binance's answer stalled: its body was not complete within {AttemptTimeout.TotalSeconds} s");
        }
        catch (Exception e) when (response is not null && e is HttpRequestException or IOException)
        {
            response.Dispose();
            throw new HttpRequestException($"Binance's answer was cut while its body was read: {(e.InnerException ?? e).Message}", e);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Binance GET {Path}: HTTP {Status} in {Milliseconds:F0} ms")]
    private static partial void LogAnswered(ILogger logger, string? path, int status, double milliseconds);
}

/// <summary>
/// Counts the weight of the requests made under it (retries included): a job starts one around its pages, and
/// the requests' handlers, running in the flow that started them, add to it.
/// </summary>
public sealed class BinanceWeightMeter : IDisposable
{
    private static readonly AsyncLocal<BinanceWeightMeter?> Current = new();
    private readonly BinanceWeightMeter? _outer;
    private long _weight;

    private BinanceWeightMeter(BinanceWeightMeter? outer) => _outer = outer;

    public static BinanceWeightMeter Start()
    {
        var meter = new BinanceWeightMeter(Current.Value);
        Current.Value = meter;
        return meter;
    }

    internal static void Add(int weight)
    {
        if (Current.Value is { } meter)
        {
            Interlocked.Add(ref meter._weight, weight);
        }
    }

    /// <summary>The weight counted since the last call.</summary>
    public long TakeWeight() => Interlocked.Exchange(ref _weight, 0);

    public void Dispose() => Current.Value = _outer;
}

/// <summary>Binance banned this IP (HTTP 418); requests resume when the ban ends.</summary>
public sealed class BinanceBannedException(string message) : Exception(message);

/// <summary>
/// Binance USDⓈ-M futures klines, through the shared weight budget and the retry policy. A complete answer that
/// is not a valid klines page is asked for again (each attempt pays its weight) up to <see cref="MalformedAttempts"/> times.
/// </summary>
public sealed partial class BinanceClient(HttpClient http, TimeProvider time, ILogger<BinanceClient> logger)
{
    public const int MalformedAttempts = 3;

    public static readonly string ExtractorVersion = "data-manager " + (typeof(BinanceClient).Assembly.GetName().Version?.ToString(3) ?? "0");

    public async Task<IReadOnlyList<Candles.Candle>> GetKlinesAsync(string symbol, Candles.Timeframe timeframe, KlineRequest request, CancellationToken cancellationToken)
    {
        var url = string.Create(CultureInfo.InvariantCulture,
            $"/fapi/v1/klines?symbol={Uri.EscapeDataString(symbol)}&interval={timeframe.Name}&startTime={request.StartMs}&endTime={request.EndMs}&limit={request.Limit}");
        for (var attempt = 1; ; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, url);
            message.Options.Set(BinanceWeights.RequestWeight, BinanceWeights.ForLimit(request.Limit));
            using var response = await http.SendAsync(message, cancellationToken);
            if (response.StatusCode == (HttpStatusCode)418)
            {
                throw new BinanceBannedException($"Binance banned this IP until {response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 120} s from now");
            }

            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            try
            {
                return BinanceKlines.Parse(body, symbol, timeframe, time.GetUtcNow().UtcDateTime, ExtractorVersion);
            }
            catch (MalformedKlinesException e) when (attempt < MalformedAttempts)
            {
                LogMalformed(logger, url, attempt, MalformedAttempts, e.Message);
            }
            catch (MalformedKlinesException e)
            {
                throw new MalformedKlinesException($"Binance answered malformed klines {attempt} times in a row for {symbol} {timeframe.Name} at {request.StartMs}: {e.Message}");
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Binance answered malformed klines for {Path} (attempt {Attempt} of {Attempts}), asking again: {Error}")]
    private static partial void LogMalformed(ILogger logger, string path, int attempt, int attempts, string error);
}
