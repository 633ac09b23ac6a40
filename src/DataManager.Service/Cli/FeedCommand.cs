using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DataManager.Hosting;
using NATS.Client.Core;

namespace DataManager.Cli;

/// <summary>
/// <c>feed --nats URL --rate N --duration S [--symbols A,B] [--subject S] [--malformed FRACTION]</c>: publishes
/// realistic envelopes of every event type (shapes as the socket client sends them) for tests, demos and load.
/// Exit 0 sent; 2 bad arguments; 3 NATS unreachable.
/// </summary>
public static class FeedCommand
{
    private static readonly string[] Kinds = ["aggTrade", "trade", "depthUpdate", "depth20", "markPriceUpdate", "kline", "bookTicker", "24hrTicker", "forceOrder"];

    public static Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter errors, CancellationToken cancellationToken) =>
        Verbs.RunVerbAsync("feed", args, new VerbContext(configuration, output, errors, TimeProvider.System), cancellationToken);

    public static Command Create(VerbContext context)
    {
        var nats = new Option<string?>("--nats") { Description = "NATS server URL (default: NATS_URL)" };
        var subject = CliOptions.Checked("--subject", "Subject to publish on (default: NATS_CONSUMER_SUBJECT, else binance.futures.websocket.data)",
            (string text, out string value) => (value = text).Length > 0, "a subject");
        var rate = CliOptions.Checked("--rate", "Messages per second", CliOptions.Number(0, double.MaxValue, minExclusive: true), "a number above 0");
        rate.DefaultValueFactory = _ => 1000;
        var duration = CliOptions.Checked("--duration", "Seconds to publish for", CliOptions.Number(0, double.MaxValue, minExclusive: true), "a number of seconds above 0");
        duration.DefaultValueFactory = _ => 10;
        var symbols = CliOptions.CheckedList<string>("--symbols", "Symbols, comma-separated (default BTCUSDT,ETHUSDT,SOLUSDT,BNBUSDT)", CliOptions.TrySymbol, CliOptions.SymbolExpected);
        var malformed = CliOptions.Checked("--malformed", "Share of malformed messages, 0 to 1 (default 0)", CliOptions.Number(0, 1, minExclusive: false), "a fraction from 0 to 1");
        var command = new Command("feed", "Publish realistic envelopes of every event type to NATS, for tests, demos and load. Exit 0 sent; 2 bad arguments; 3 NATS unreachable.")
        {
            nats, subject, rate, duration, symbols, malformed,
        };
        command.SetAction((parsed, cancellationToken) => RunAsync(
            // The URL as configured, credentials included: the generator connects with them as they are.
            parsed.GetValue(nats) ?? context.Configuration["NATS_URL"],
            parsed.GetValue(subject) ?? DataManagerSettings.Bind(context.Configuration).Nats.Subject,
            parsed.GetValue(rate),
            parsed.GetValue(duration),
            parsed.GetValue(malformed),
            parsed.ListOrNull(symbols) ?? ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"],
            context,
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string? url, string subject, double rate, double duration, double malformed, string[] symbols, VerbContext context, CancellationToken cancellationToken)
    {
        var (_, output, errors, _) = context;
        if (string.IsNullOrEmpty(url))
        {
            await errors.WriteLineAsync("feed: --nats URL (or NATS_URL) is required");
            return AuditCommand.BadArguments;
        }

        await using var connection = new NatsConnection(new NatsOpts { Url = url, Name = "data-manager-feed", ConnectTimeout = TimeSpan.FromSeconds(3) });
        try
        {
            await connection.ConnectAsync();
        }
        catch (Exception e) when (e is NatsException || DependencyFailure.IsUnreachable(e))
        {
            await errors.WriteLineAsync($"feed: cannot reach NATS at {url}: {e.Message}");
            return AuditCommand.Unreachable;
        }

        var random = new Random(7);
        var buffer = new ArrayBufferWriter<byte>(1024);
        var watch = Stopwatch.StartNew();
        long sent = 0, bad = 0;
        var total = (long)(rate * duration);
        while (sent < total && !cancellationToken.IsCancellationRequested)
        {
            // Pace by the clock: send what is due, then yield briefly.
            var due = Math.Min(total, (long)(watch.Elapsed.TotalSeconds * rate) + 1);
            for (; sent < due; sent++)
            {
                buffer.ResetWrittenCount();
                if (random.NextDouble() < malformed)
                {
                    WriteMalformed(buffer, random);
                    bad++;
                }
                else
                {
                    WriteEnvelope(buffer, Kinds[sent % Kinds.Length], symbols[(sent / Kinds.Length) % symbols.Length], sent, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                }

                await connection.PublishAsync(subject, buffer.WrittenMemory, cancellationToken: cancellationToken);
            }

            if (sent < total)
            {
                await Task.Delay(1, cancellationToken);
            }
        }

        await connection.PingAsync(cancellationToken); // everything written has reached the server
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"sent {sent} messages ({bad} malformed) to {subject} in {watch.Elapsed.TotalSeconds:F2} s: {sent / watch.Elapsed.TotalSeconds:F0} msg/s"));
        return 0;
    }

    /// <summary>One envelope as the socket client publishes it; numbers as strings, like Binance.</summary>
    public static void WriteEnvelope(IBufferWriter<byte> buffer, string kind, string symbol, long sequence, long nowMs)
    {
        using var json = new Utf8JsonWriter(buffer);
        var lower = symbol.ToLowerInvariant();
        var price = (97000 + (sequence % 500)).ToString(CultureInfo.InvariantCulture) + ".10";
        json.WriteStartObject();
        json.WriteString("stream", kind switch
        {
            "depth20" => $"{lower}@depth20@100ms",
            "depthUpdate" => $"{lower}@depth@100ms",
            "kline" => $"{lower}@kline_1m",
            "24hrTicker" => $"{lower}@ticker",
            "markPriceUpdate" => $"{lower}@markPrice@1s",
            _ => $"{lower}@{kind}",
        });
        json.WriteStartObject("data");
        switch (kind)
        {
            case "depth20": // partial depth snapshot: no e, no s
                json.WriteNumber("lastUpdateId", sequence);
                json.WriteNumber("T", nowMs);
                WriteLevels(json, "bids", price);
                WriteLevels(json, "asks", price);
                break;
            case "forceOrder": // the symbol is nested in o.s
                json.WriteString("e", "forceOrder");
                json.WriteNumber("E", nowMs);
                json.WriteStartObject("o");
                json.WriteString("s", symbol);
                json.WriteString("S", "SELL");
                json.WriteString("p", price);
                json.WriteString("q", "0.014");
                json.WriteEndObject();
                break;
            default:
                json.WriteString("e", kind);
                json.WriteNumber("E", nowMs);
                json.WriteString("s", symbol);
                if (kind == "kline")
                {
                    json.WriteStartObject("k");
                    json.WriteNumber("t", nowMs - (nowMs % 60_000));
                    json.WriteString("i", "1m");
                    json.WriteString("o", price);
                    json.WriteString("c", price);
                    json.WriteBoolean("x", false);
                    json.WriteEndObject();
                }
                else if (kind == "depthUpdate")
                {
                    WriteLevels(json, "b", price);
                    WriteLevels(json, "a", price);
                }
                else
                {
                    json.WriteString("p", price);
                    json.WriteString("q", "0.250");
                }

                break;
        }

        json.WriteEndObject();
        json.WriteString("timestamp", DateTimeOffset.FromUnixTimeMilliseconds(nowMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        json.WriteString("message_id", sequence.ToString(CultureInfo.InvariantCulture));
        json.WriteString("source", "binance-futures");
        json.WriteString("version", "1");
        json.WriteEndObject();
    }

    private static void WriteLevels(Utf8JsonWriter json, string name, string price)
    {
        json.WriteStartArray(name);
        for (var i = 0; i < 3; i++)
        {
            json.WriteStartArray();
            json.WriteStringValue(price);
            json.WriteStringValue("1.5");
            json.WriteEndArray();
        }

        json.WriteEndArray();
    }

    private static void WriteMalformed(IBufferWriter<byte> buffer, Random random)
    {
        ReadOnlySpan<byte> sample = (random.Next(4)) switch
        {
            0 => "not json at all"u8,
            1 => "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"s\":\"BTC"u8,
            2 => "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"s\":42}}"u8,
            _ => "{\"stream\":\"btcusdt@aggTrade\"}"u8,
        };
        buffer.Write(sample);
    }
}
