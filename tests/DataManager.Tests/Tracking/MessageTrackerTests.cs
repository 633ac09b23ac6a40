using System.Buffers;
using System.Net.Http.Json;
using System.Text;
using DataManager.Cli;
using DataManager.Storage;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using DataManager.Tracking;
using Microsoft.Extensions.Configuration;
using NATS.Client.Core;

namespace DataManager.Tests.Tracking;

/// <summary>The tracker in the real service against a real nats-server.</summary>
[Trait("Category", "Server")]
public sealed class MessageTrackerTests(NatsServer sharedNats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<ServiceHost> StartAsync(string url, string subject) => await ServiceHost.StartAsync(new Dictionary<string, string?>
    {
        ["NATS_URL"] = url,
        ["NATS_CONSUMER_SUBJECT"] = subject,
        ["ENABLE_AUDITOR"] = "false",
        ["SUPPORTED_PAIRS"] = "BTCUSDT,ETHUSDT,SOLUSDT",
    });

    private static Task<TrackerResponse> WaitForAsync(ServiceHost host, Func<TrackerResponse, bool> condition) =>
        WaitForAsync(async () => (await host.Client.GetFromJsonAsync<TrackerResponse>("/api/tracker", StoreJson.Options, Ct))!, condition);

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> condition)
    {
        var value = default(T);
        await Eventually.UntilAsync("the expected state", async _ => condition(value = await read()), TimeSpan.FromMinutes(1),
            seen: () => StoreJson.Serialize(value), cancellationToken: Ct);
        return value!;
    }

    private static async Task PublishAsync(string url, string subject, IEnumerable<byte[]> payloads)
    {
        await using var publisher = new NatsConnection(new NatsOpts { Url = url });
        foreach (var payload in payloads)
        {
            await publisher.PublishAsync(subject, payload, cancellationToken: Ct);
        }

        await publisher.PingAsync(Ct);
    }

    private static byte[] Envelope(string kind, string symbol, long sequence)
    {
        var buffer = new ArrayBufferWriter<byte>();
        FeedCommand.WriteEnvelope(buffer, kind, symbol, sequence, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return buffer.WrittenSpan.ToArray();
    }

    [Fact]
    public async Task A_corpus_of_every_event_type_is_counted_exactly()
    {
        sharedNats.Require();
        var subject = "test.feed." + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartAsync(sharedNats.Url, subject);
        await sharedNats.WaitForSubscriberAsync(subject);

        string[] kinds = ["aggTrade", "trade", "depthUpdate", "depth20", "markPriceUpdate", "kline", "bookTicker", "24hrTicker", "forceOrder"];
        var payloads = new List<byte[]>();
        foreach (var kind in kinds)
        {
            payloads.AddRange(Enumerable.Range(0, 3).Select(i => Envelope(kind, "BTCUSDT", i)));
            payloads.Add(Envelope(kind, "ETHUSDT", 9));
        }

        payloads.Add(Envelope("aggTrade", "DOGEUSDT", 1)); // outside SUPPORTED_PAIRS: other
        payloads.Add(Encoding.UTF8.GetBytes("""{"stream":"btcusdt@weird","data":{"e":"newKind","s":"BTCUSDT","E":1}}""")); // unknown type
        await PublishAsync(sharedNats.Url, subject, payloads);

        var tracker = await WaitForAsync(host, t => t.Totals.Received >= 38);
        Assert.Equal((38L, 0L, 0L), (tracker.Totals.Received, tracker.Totals.Invalid, tracker.Totals.Dropped));
        Assert.Equal(28, tracker.Symbols.Single(s => s.Symbol == "BTCUSDT").Count);
        Assert.Equal(9, tracker.Symbols.Single(s => s.Symbol == "ETHUSDT").Count);
        Assert.Equal(1, tracker.Symbols.Single(s => s.Symbol == "other").Count);
        Assert.Equal(5, tracker.EventTypes["aggTrade"]);
        Assert.Equal(4, tracker.EventTypes["depth"]);
        Assert.Equal(4, tracker.EventTypes["forceOrder"]);
        Assert.Equal(1, tracker.EventTypes["unknown"]);
        Assert.NotNull(tracker.Symbols.Single(s => s.Symbol == "BTCUSDT").LastLatencySeconds);

        // This host's own registry: exactly what it received, nothing another test's host counted.
        var metrics = await host.Client.GetStringAsync("/metrics", Ct);
        Assert.Equal(3, Exposition.Value(metrics, "data_manager_messages_received_total{event_type=\"depth\",symbol=\"BTCUSDT\"}"));
        Assert.Equal(1, Exposition.Value(metrics, "data_manager_messages_received_total{event_type=\"aggTrade\",symbol=\"other\"}"));
        Assert.Equal(1, Exposition.Value(metrics, "data_manager_messages_received_total{event_type=\"unknown\",symbol=\"BTCUSDT\"}"));
        Assert.Equal(34, Exposition.Value(metrics, "data_manager_message_latency_seconds_count")); // all but the 4 partial-depth snapshots (no E)
        Assert.InRange(Exposition.Value(metrics, "data_manager_last_message_timestamp_seconds{symbol=\"ETHUSDT\"}"), DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        Assert.Equal(1, Exposition.Value(metrics, "data_manager_nats_connected"));
    }

    [Fact]
    public async Task Malformed_messages_are_counted_by_reason_and_the_loop_goes_on()
    {
        sharedNats.Require();
        var subject = "test.feed." + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartAsync(sharedNats.Url, subject);
        await sharedNats.WaitForSubscriberAsync(subject);

        var random = new Random(5);
        var noise = new byte[500];
        random.NextBytes(noise);
        var big = Encoding.UTF8.GetBytes("{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"s\":\"BTCUSDT\",\"pad\":\"" + new string('x', 900_000) + "\"}}");
        byte[][] bad =
        [
            Encoding.UTF8.GetBytes("not json"),
            Encoding.UTF8.GetBytes("""{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTC"""),
            Encoding.UTF8.GetBytes("""{"stream":"btcusdt@aggTrade","data":[1]}"""),
            Encoding.UTF8.GetBytes("""{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":1234}}"""),
            [],
            big,
            noise,
            Encoding.UTF8.GetBytes("{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"x\":" + new string('[', 100) + new string(']', 100) + "}}"),
        ];
        await PublishAsync(sharedNats.Url, subject, [.. bad, Envelope("trade", "SOLUSDT", 1)]);

        var tracker = await WaitForAsync(host, t => t.Totals.Received + t.Totals.Invalid >= 9);
        Assert.Equal(1, tracker.Totals.Received);
        Assert.Equal(8, tracker.Totals.Invalid);
        // "not json", the truncated envelope and the random bytes (which read as either).
        Assert.Equal(3, tracker.Invalid["not_json"] + tracker.Invalid["truncated"]);
        Assert.Equal(1, tracker.Invalid["no_data"]);
        Assert.Equal(1, tracker.Invalid["bad_symbol"]);
        Assert.Equal(1, tracker.Invalid["empty"]);
        Assert.Equal(1, tracker.Invalid["too_large"]);
        Assert.Equal(1, tracker.Invalid["too_deep"]);
    }

    [Fact]
    public async Task A_restarted_nats_server_is_reconnected_and_counting_goes_on()
    {
        await using var own = new NatsServer();
        await own.InitializeAsync();
        own.Require();
        if (!own.CanRestart)
        {
            Assert.Skip("needs a local nats-server binary to restart");
        }

        var subject = "test.feed.restart";
        await using var host = await StartAsync(own.Url, subject);
        await own.WaitForSubscriberAsync(subject);
        await PublishAsync(own.Url, subject, Enumerable.Range(0, 10).Select(i => Envelope("trade", "BTCUSDT", i)));
        await WaitForAsync(host, t => t.Totals.Received == 10);
        Assert.Equal(0, await host.ScrapeAsync("data_manager_nats_reconnects_total")); // the first connection is not a reconnect
        Assert.Equal(1, await host.ScrapeAsync("data_manager_nats_connected"));

        await own.StopAsync();
        var down = await WaitForAsync(host, t => !t.Connected);
        await WaitForAsync(() => host.ScrapeAsync("data_manager_nats_connected"), connected => connected == 0);
        using (var readiness = await host.Client.GetAsync("/health/readiness", Ct))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, readiness.StatusCode);
            Assert.Contains("\"name\":\"nats\",\"status\":\"Degraded\"", await readiness.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        await own.StartAsync();
        await WaitForAsync(host, t => t.Connected);
        await own.WaitForSubscriberAsync(subject); // resubscription after reconnect
        await PublishAsync(own.Url, subject, Enumerable.Range(0, 5).Select(i => Envelope("trade", "BTCUSDT", i)));
        var after = await WaitForAsync(host, t => t.Totals.Received == 15);
        Assert.False(down.Connected);
        Assert.Equal(15, after.Totals.Received);
        await WaitForAsync(() => host.ScrapeAsync("data_manager_nats_reconnects_total"), reconnects => reconnects >= 1);
        var metrics = await host.Client.GetStringAsync("/metrics", Ct);
        Assert.Equal((1, 1), (Exposition.Value(metrics, "data_manager_nats_reconnects_total"), Exposition.Value(metrics, "data_manager_nats_connected")));
        Assert.Equal(15, Exposition.Value(metrics, "data_manager_messages_received_total{event_type=\"trade\",symbol=\"BTCUSDT\"}"));
    }

    [Fact]
    public async Task The_feed_verb_publishes_the_rate_and_share_it_is_asked_for()
    {
        sharedNats.Require();
        var subject = "test.feed." + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartAsync(sharedNats.Url, subject);
        await sharedNats.WaitForSubscriberAsync(subject);

        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("NATS_CONSUMER_SUBJECT", subject)]).Build();
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var code = await FeedCommand.RunAsync(["--nats", sharedNats.Url, "--rate", "2000", "--duration", "0.5", "--malformed", "0.1"], configuration, output, errors, Ct);
        Assert.Equal(0, code);
        Assert.StartsWith("sent 1000 messages", output.ToString(), StringComparison.Ordinal);

        var tracker = await WaitForAsync(host, t => t.Totals.Received + t.Totals.Invalid == 1000);
        Assert.InRange(tracker.Totals.Invalid, 50, 150);
        Assert.Equal(9, tracker.EventTypes.Count);
        Assert.Equal(0, tracker.Totals.Dropped);

        Assert.Equal(2, await FeedCommand.RunAsync(["--rate", "-1"], configuration, output, errors, Ct));
        Assert.Equal(3, await FeedCommand.RunAsync(["--nats", $"nats://127.0.0.1:{ServerAvailability.FreePort()}", "--duration", "1"], configuration, output, errors, Ct));
    }
}
