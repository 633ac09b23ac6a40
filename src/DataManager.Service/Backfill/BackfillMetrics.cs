using Prometheus;

namespace DataManager.Backfill;

/// <summary>Backfill's Prometheus metrics (jobs, the queue, Binance requests), created in the host's registry.</summary>
public sealed class BackfillMetrics
{
    public BackfillMetrics(IMetricFactory factory)
    {
        Triggered = factory.CreateCounter("data_manager_audit_backfills_triggered_total", "Backfill jobs created from audit gaps.", ["symbol", "timeframe"]);
        Jobs = factory.CreateGauge("data_manager_backfill_jobs", "Backfill jobs by state.", ["state"]);
        OldestPending = factory.CreateGauge("data_manager_backfill_oldest_pending_seconds", "Age of the oldest pending backfill job (0 when none waits).");
        Written = factory.CreateCounter("data_manager_backfill_candles_written_total", "Candles written by backfill.", ["symbol", "timeframe"]);
        Finished = factory.CreateCounter("data_manager_backfill_jobs_finished_total", "Backfill jobs that ended, by outcome (completed or failed).", ["state"]);
        BinanceRequests = factory.CreateCounter("data_manager_binance_requests_total", "Binance REST requests, by HTTP status.", ["status"]);
        BinanceWeightUsed = factory.CreateGauge("data_manager_binance_weight_used", "Request weight used in the current minute (this process, or the server's count when higher).");
        BinanceBanned = factory.CreateGauge("data_manager_binance_banned", "1 while Binance bans this IP (HTTP 418), else 0.");

        // Both outcomes exist from the start, so "failures in the last 15 minutes" is 0, not absent.
        Finished.WithLabels("completed");
        Finished.WithLabels("failed");
    }

    public Counter Triggered { get; }

    public Gauge Jobs { get; }

    public Gauge OldestPending { get; }

    public Counter Written { get; }

    public Counter Finished { get; }

    public Counter BinanceRequests { get; }

    public Gauge BinanceWeightUsed { get; }

    public Gauge BinanceBanned { get; }
}
