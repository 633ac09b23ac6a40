using Prometheus;

namespace DataManager.Tracking;

/// <summary>The tracker's and the NATS connection's Prometheus metrics, created in the host's registry.</summary>
public sealed class TrackerMetrics(IMetricFactory factory)
{
    public Counter Received { get; } = factory.CreateCounter("data_manager_messages_received_total", "Feed messages received, by event type and symbol.", ["event_type", "symbol"]);

    public Counter Invalid { get; } = factory.CreateCounter("data_manager_messages_invalid_total", "Feed messages that could not be read, by reason.", ["reason"]);

    public Counter Bytes { get; } = factory.CreateCounter("data_manager_message_bytes_total", "Payload bytes received from the feed.");

    public Counter Dropped { get; } = factory.CreateCounter("data_manager_messages_dropped_total", "Feed messages dropped by the client (pending buffer full, slow consumer).");

    public Counter ClockSkew { get; } = factory.CreateCounter("data_manager_message_clock_skew_total", "Messages whose event time was after their receive time (latency clamped to 0).");

    public Gauge LastMessage { get; } = factory.CreateGauge("data_manager_last_message_timestamp_seconds", "Unix time the last message of a symbol was received.", ["symbol"]);

    public Histogram Latency { get; } = factory.CreateHistogram("data_manager_message_latency_seconds", "Receive time minus the exchange's event time.",
        new HistogramConfiguration { Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

    public Gauge NatsConnected { get; } = factory.CreateGauge("data_manager_nats_connected", "1 while this replica's NATS connection is open.");

    public Counter NatsReconnects { get; } = factory.CreateCounter("data_manager_nats_reconnects_total", "NATS connections re-opened after a disconnect.");
}
