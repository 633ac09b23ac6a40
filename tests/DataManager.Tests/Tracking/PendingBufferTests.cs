using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using DataManager.Cli;
using DataManager.Configuration;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using DataManager.Tracking;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NATS.Client.Core;
using Prometheus;

namespace DataManager.Tests.Tracking;

/// <summary>The tracker's pending buffer: one fixed byte ring between the socket reader and the receive loop.</summary>
public sealed class PendingPayloadsTests
{
    private static ReadOnlySequence<byte> Payload(int sequence, int length)
    {
        var bytes = new byte[length];
        if (length >= 4)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes, sequence);
        }

        return new ReadOnlySequence<byte>(bytes);
    }

    [Fact]
    public void Payloads_come_out_whole_and_in_order_over_many_laps_of_the_ring()
    {
        var pending = new PendingPayloads(1_000, maxMessages: 1_000);
        var random = new Random(7);
        var written = new Queue<(int Sequence, int Length)>();
        var next = 0;
        for (var step = 0; step < 20_000; step++)
        {
            if (random.Next(3) > 0)
            {
                var length = random.Next(4, 300);
                if (pending.TryWrite(Payload(next, length)))
                {
                    written.Enqueue((next++, length));
                }
            }
            else if (pending.TryPeek(out var payload))
            {
                var (sequence, length) = written.Dequeue();
                Assert.Equal(length, payload.Length);
                Assert.Equal(sequence, BinaryPrimitives.ReadInt32LittleEndian(payload));
                pending.Advance();
            }

            Assert.InRange(pending.PendingBytes, 0, 1_000);
        }

        Assert.True(next > 5_000, $"{next} written"); // many laps of a 1,000-byte ring
        Assert.InRange(pending.PeakBytes, 900, 1_000);
    }

    [Fact]
    public void What_does_not_fit_in_bytes_or_messages_is_refused_and_fits_again_once_read()
    {
        var pending = new PendingPayloads(1_024, maxMessages: 1_000);
        Assert.False(pending.TryWrite(Payload(0, 1_021))); // with its 4-byte length, more than the ring
        Assert.True(pending.TryWrite(Payload(1, 1_020)));
        Assert.False(pending.TryWrite(Payload(2, 0)));
        Assert.True(pending.TryPeek(out var first));
        Assert.Equal(1_020, first.Length);
        pending.Advance();
        Assert.True(pending.IsEmpty);
        Assert.True(pending.TryWrite(Payload(3, 0))); // an empty payload is a message too
        Assert.True(pending.TryPeek(out var empty));
        Assert.Equal(0, empty.Length);
        pending.Advance();

        var counted = new PendingPayloads(1 << 20, maxMessages: 3);
        Assert.Equal(3, Enumerable.Range(0, 10).Count(i => counted.TryWrite(Payload(i, 10))));
        Assert.Equal(3, counted.PendingMessages);
    }

    [Fact]
    public void Copying_in_and_reading_out_allocates_nothing()
    {
        var pending = new PendingPayloads(64 * 1024, maxMessages: 65_536);
        var payload = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT"}}"""));
        long bytes = 0;
        for (var i = 0; i < 1_000; i++)
        {
            pending.TryWrite(payload);
            pending.TryPeek(out var read);
            bytes += read.Length;
            pending.Advance();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100_000; i++)
        {
            pending.TryWrite(payload);
            pending.TryPeek(out var read);
            bytes += read.Length;
            pending.Advance();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 10_000, $"{allocated} bytes for 100,000 messages");
        Assert.Equal(101_000 * payload.Length, bytes);
    }
}

/// <summary>The pending buffer against a real nats-server: its bound holds under overload and every drop is counted.</summary>
[Trait("Category", "Server")]
public sealed class PendingBufferOverloadTests(NatsServer nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_feed_faster_than_the_loop_fills_the_ring_to_its_bound_and_counts_every_message_it_drops()
    {
        nats.Require();
        var subject = "test.overload." + Guid.NewGuid().ToString("N")[..8];
        var options = new NatsOptions { Subject = subject, QueueGroup = "", PendingBytes = 64 * 1024, PendingMessages = 65_536 };
        var stats = new TrackerStats(["BTCUSDT"], trackAllSymbols: false, new TrackerMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())));
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        await connection.ConnectAsync();
        using var tracker = new MessageTracker(connection, stats, Options.Create(options), TimeProvider.System, NullLogger<MessageTracker>.Instance);
        var pending = new PendingPayloads(options.PendingBytes, options.PendingMessages);

        // The receive loop is not running: the whole feed meets a loop that has stalled.
        await using var subscription = await FeedSubscription.SubscribeAsync(connection, subject, null, pending, options.MaxMessageBytes,
            tracker.CountTooLarge, stats.Dropped1, Ct);
        await nats.WaitForSubscriberAsync(subject);
        var envelope = new ArrayBufferWriter<byte>();
        FeedCommand.WriteEnvelope(envelope, "depthUpdate", "BTCUSDT", 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        const int sent = 2_000;
        await using (var publisher = new NatsConnection(new NatsOpts { Url = nats.Url }))
        {
            for (var i = 0; i < sent; i++)
            {
                await publisher.PublishAsync(subject, envelope.WrittenMemory.ToArray(), cancellationToken: Ct);
            }

            await publisher.PingAsync(Ct);
        }

        await Eventually.UntilAsync("every message is either held or dropped", () => pending.PendingMessages + stats.TotalDropped == sent, TimeSpan.FromMinutes(1),
            seen: () => $"{pending.PendingMessages} held, {stats.TotalDropped} dropped", cancellationToken: Ct);
        var held = pending.PendingMessages;
        var record = envelope.WrittenCount + 4; // the payload and its length
        Assert.Equal(64 * 1024 / record, held); // the ring full: the next record would not fit
        Assert.InRange(pending.PeakBytes, (64 * 1024) - record + 1, 64 * 1024);
        Assert.Equal(sent - held, stats.TotalDropped);

        // The loop catches up: what was held is counted, and the ring takes new messages again.
        Assert.Equal(held, tracker.Drain(pending));
        Assert.Equal((held, 0L, sent - held), (stats.TotalReceived, stats.TotalInvalid, stats.TotalDropped));
        Assert.True(pending.IsEmpty);
        await using (var publisher = new NatsConnection(new NatsOpts { Url = nats.Url }))
        {
            await publisher.PublishAsync(subject, envelope.WrittenMemory.ToArray(), cancellationToken: Ct);
            await publisher.PingAsync(Ct);
        }

        await Eventually.UntilAsync("the next message is held", () => pending.PendingMessages == 1, TimeSpan.FromMinutes(1), cancellationToken: Ct);
        Assert.Equal(1, tracker.Drain(pending));
        Assert.Equal(sent - held, stats.TotalDropped);
    }
}
