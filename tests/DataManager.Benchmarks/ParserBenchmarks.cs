using System.Buffers;
using BenchmarkDotNet.Attributes;
using DataManager.Cli;
using DataManager.Tracking;
using Prometheus;

namespace DataManager.Benchmarks;

/// <summary>
/// The envelope parser plus the counting the receive loop does, per event type: messages per second on one core,
/// bytes allocated per message. The reader path (what every message took before the scan) is the baseline.
/// </summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    private const int Batch = 1_000;
    private byte[] _payload = [];
    private TrackerStats _stats = null!;

    [Params("aggTrade", "trade", "depthUpdate", "depth20", "markPriceUpdate", "kline", "bookTicker", "24hrTicker", "forceOrder")]
    public string Kind { get; set; } = "aggTrade";

    [GlobalSetup]
    public void Setup()
    {
        var buffer = new ArrayBufferWriter<byte>();
        FeedCommand.WriteEnvelope(buffer, Kind, "BTCUSDT", 42, 1732300000000);
        _payload = buffer.WrittenSpan.ToArray();
        _stats = new TrackerStats(["BTCUSDT", "ETHUSDT"], trackAllSymbols: false, new TrackerMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "reader: parse + count one message")]
    public long ReaderParseAndCount()
    {
        for (var i = 0; i < Batch; i++)
        {
            var parsed = FeedEnvelope.ParseWithReader(_payload);
            _stats.Received1(parsed.EventType, parsed.Symbol, _payload.Length, 1732300000100, parsed.EventTimeMs);
        }

        return _stats.TotalReceived;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "scan: parse + count one message")]
    public long ParseAndCount()
    {
        for (var i = 0; i < Batch; i++)
        {
            var parsed = FeedEnvelope.Parse(_payload, 256 * 1024);
            _stats.Received1(parsed.EventType, parsed.Symbol, _payload.Length, 1732300000100, parsed.EventTimeMs);
        }

        return _stats.TotalReceived;
    }
}
