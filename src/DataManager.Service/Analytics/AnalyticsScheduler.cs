using System.Collections.Concurrent;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Leadership;
using DataManager.Storage;
using Microsoft.Extensions.Options;
using Prometheus;

namespace DataManager.Analytics;

/// <summary>
/// The leader-only analytics loop: every ANALYTICS_INTERVAL, for every scheduled series, the last
/// ANALYTICS_LOOKBACK_CANDLES closed candles (one query per 100 symbols of a timeframe) become one result per metric group, and
/// the series of each timeframe a correlation matrix. A failing series does not stop the others. Results are
/// written one batch per timeframe.
/// </summary>
public sealed partial class AnalyticsScheduler(
    ICandleSource candles,
    IAnalyticsStore store,
    IOptions<AnalyticsOptions> options,
    IOptions<SeriesOptions> seriesOptions,
    IOptions<CandleDatabaseOptions> candleOptions,
    CandleReadiness candleReadiness,
    TimeProvider time,
    ILogger<AnalyticsScheduler> logger) : ILeaderLoop
{
    public const string CorrelationSymbol = "*";

    internal static readonly Histogram CycleSeconds = Metrics.CreateHistogram("data_manager_analytics_cycle_seconds", "Duration of an analytics cycle.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 14) });

    internal static readonly Gauge LastSuccess = Metrics.CreateGauge("data_manager_analytics_last_success_timestamp_seconds", "Unix time the last analytics cycle finished.");
    private static readonly Gauge Volatility = Metrics.CreateGauge("data_manager_volatility_annualized", "Annualised volatility of log returns.", ["symbol", "timeframe"]);
    private static readonly Gauge Regime = Metrics.CreateGauge("data_manager_regime", "1 for the series' current regime, 0 for the others.", ["symbol", "timeframe", "regime"]);

    /// <summary>Series read per query (one timeframe's symbols): what the cycle holds at once, four reads at a time.</summary>
    private const int SymbolsPerRead = 100;

    private int _cycles;

    public string Name => "analytics";

    public TimeSpan InitialDelay => options.Value.InitialDelay;

    public TimeSpan Interval => options.Value.Interval;

    /// <summary>Cycles this replica has run (a follower runs none).</summary>
    public int Cycles => Volatile.Read(ref _cycles);

    public Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken) => RunCycleAsync(leadership.Term, cancellationToken);

    public async Task<int> RunCycleAsync(long term, CancellationToken cancellationToken)
    {
        await candleReadiness.WaitAsync(cancellationToken);
        var started = time.GetTimestamp();
        var computedAt = time.GetUtcNow();
        var errors = new ConcurrentBag<string>();
        int seriesRead = 0, resultCount = 0;

        // One timeframe at a time, and of each series only what correlation needs (CorrelationInput) outlives
        // its own groups: memory stays bounded by one timeframe's closes, however many series there are.
        foreach (var timeframe in seriesOptions.Value.Scheduled(candleOptions.Value.IsEmbedded).GroupBy(s => s.Timeframe))
        {
            var inputs = new ConcurrentBag<CorrelationInput>();
            var results = new ConcurrentBag<AnalyticsResult>();
            // Closed candles only: the one opened at floor(now) is still forming.
            var before = timeframe.Key.Floor(computedAt.UtcDateTime);
            // One query per chunk of symbols, only the columns the formulas use; a chunk's rows are dropped once
            // its series are computed.
            await Parallel.ForEachAsync(timeframe.Chunk(SymbolsPerRead), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (chunk, token) =>
            {
                CandleResult<IReadOnlyDictionary<string, OhlcvRows>> read;
                try
                {
                    read = await candles.ReadLatestOhlcvAsync(timeframe.Key, [.. chunk.Select(k => k.Symbol)], options.Value.LookbackCandles, before, token);
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    foreach (var key in chunk)
                    {
                        errors.Add($"{key}: {e.Message}");
                    }

                    return;
                }

                foreach (var key in chunk)
                {
                    if (read.TableMissing)
                    {
                        errors.Add($"{key}: missing_table {key.Timeframe.TableName}");
                        continue;
                    }

                    try
                    {
                        var seriesData = new SeriesData(key, read.Value.GetValueOrDefault(key.Symbol) ?? OhlcvRows.Empty);
                        inputs.Add(CorrelationInput.From(seriesData));
                        foreach (var group in AnalyticsCalculator.Compute(seriesData))
                        {
                            results.Add(ToResult(key.Symbol, key.Timeframe.Name, group, computedAt, term));
                            Export(key, group);
                        }
                    }
                    catch (Exception e)
                    {
                        errors.Add($"{key}: {e.Message}");
                    }
                }
            });

            if (!inputs.IsEmpty)
            {
                results.Add(ToResult(CorrelationSymbol, timeframe.Key.Name, AnalyticsCalculator.Correlation([.. inputs]), computedAt, term));
            }

            if (!results.IsEmpty)
            {
                await store.InsertAsync([.. results], cancellationToken);
            }

            seriesRead += inputs.Count;
            resultCount += results.Count;
        }

        await store.PruneAsync(computedAt - TimeSpan.FromDays(options.Value.RetentionDays), cancellationToken);
        var elapsed = time.GetElapsedTime(started);
        CycleSeconds.Observe(elapsed.TotalSeconds);
        LastSuccess.Set(time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
        Interlocked.Increment(ref _cycles);
        LogCycle(logger, term, seriesRead, resultCount, errors.Count, errors.FirstOrDefault() is { } first ? $" (first error: {first})" : "", elapsed.TotalSeconds);
        return resultCount;
    }

    private static AnalyticsResult ToResult(string symbol, string timeframe, MetricGroup group, DateTimeOffset computedAt, long term) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Symbol = symbol,
        Timeframe = timeframe,
        Metric = group.Metric,
        ComputedAt = computedAt,
        Term = term,
        Values = group.Values,
        Reasons = group.Reasons,
        Labels = group.Labels,
    };

    private static void Export(SeriesKey key, MetricGroup group)
    {
        if (group.Metric == "volatility" && group.Values["annualized"] is { } annualized)
        {
            Volatility.WithLabels(key.Symbol, key.Timeframe.Name).Set(annualized);
        }

        if (group.Metric == "regime" && group.Labels.TryGetValue("regime", out var current))
        {
            foreach (var regime in new[] { "trending", "ranging", "volatile" })
            {
                Regime.WithLabels(key.Symbol, key.Timeframe.Name, regime).Set(regime == current ? 1 : 0);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Analytics cycle (term {Term}): {Series} series, {Results} results, {Errors} errors{FirstError:l} in {Seconds:F2} s")]
    private static partial void LogCycle(ILogger logger, long term, int series, int results, int errors, string firstError, double seconds);
}
