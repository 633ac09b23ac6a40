using System.Buffers;
using System.Globalization;
using DataManager.Cli;
using DataManager.Tracking;
using Prometheus;

namespace DataManager.Benchmarks;

/// <summary>
/// Parses one envelope kind N times through the scan or the reader path, for instruction counts under
/// <c>valgrind --tool=callgrind</c>: the difference between N and 0 messages, divided by N, is the cost of
/// one message, and it does not move with the machine's load the way a time does.
/// </summary>
internal static class ParserInstructionRun
{
    public static int Run(string[] args)
    {
        var kind = Option(args, "--kind") ?? "depthUpdate";
        var messages = int.Parse(Option(args, "--messages") ?? "100000", CultureInfo.InvariantCulture);
        var path = Option(args, "--path") ?? "scan";
        var reader = path == "reader";
        var buffer = new ArrayBufferWriter<byte>();
        FeedCommand.WriteEnvelope(buffer, kind, "BTCUSDT", 42, 1732300000000);
        var payload = buffer.WrittenSpan.ToArray();
        var stats = new TrackerStats(["BTCUSDT", "ETHUSDT"], trackAllSymbols: false, new TrackerMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())));
        if (path == "count")
        {
            // The counting alone, to tell the parser's share from the receive loop's.
            var once = FeedEnvelope.Parse(payload, 256 * 1024);
            var (type, symbol, eventTime) = (once.EventType, once.Symbol.ToArray(), once.EventTimeMs);
            for (var i = 0; i < messages; i++)
            {
                stats.Received1(type, symbol, payload.Length, 1732300000100, eventTime);
            }

            return 0;
        }

        for (var i = 0; i < messages; i++)
        {
            var parsed = reader ? FeedEnvelope.ParseWithReader(payload) : FeedEnvelope.Parse(payload, 256 * 1024);
            stats.Received1(parsed.EventType, parsed.Symbol, payload.Length, 1732300000100, parsed.EventTimeMs);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind} ({path}, {payload.Length} bytes): {stats.TotalReceived} counted"));
        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
