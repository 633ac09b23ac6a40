using System.Buffers;
using DataManager.Configuration;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace DataManager.Tracking;

/// <summary>
/// Consumes the feed on every replica and measures it; stores nothing. The socket reader copies each payload
/// into a fixed byte ring (<see cref="PendingPayloads"/>) that absorbs bursts, and what does not fit is counted as
/// dropped; the receive loop parses each payload inline from the ring and counts it (no allocation, no I/O per message). Invalid input is summarised at most once a
/// minute. The subscription is re-made if it ever ends; the client itself reconnects forever.
/// </summary>
public sealed partial class MessageTracker(
    INatsConnection connection,
    TrackerStats stats,
    IOptions<NatsOptions> options,
    TimeProvider time,
    ILogger<MessageTracker> logger) : BackgroundService
{
    private readonly Lock _sampleGate = new();
    private string? _invalidSample;
    private long _invalidAtLastSummary;

    public string Subject => options.Value.Subject;

    public string QueueGroup => options.Value.QueueGroup;

    public bool Connected => connection.ConnectionState == NatsConnectionState.Open;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var summaries = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        var summary = SummariseInvalidAsync(summaries, stoppingToken);
        var pending = new PendingPayloads(options.Value.PendingBytes, options.Value.PendingMessages);
        var queueGroup = options.Value.QueueGroup.Length == 0 ? null : options.Value.QueueGroup;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var subscription = await FeedSubscription.SubscribeAsync(connection, options.Value.Subject, queueGroup, pending,
                    options.Value.MaxMessageBytes, CountTooLarge, stats.Dropped1, stoppingToken);
                LogSubscribed(logger, options.Value.Subject, queueGroup ?? "(none)", options.Value.PendingBytes, options.Value.PendingMessages);
                await ConsumeAsync(subscription, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                LogSubscriptionFailed(logger, options.Value.Subject, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        await summary.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Drains the pending buffer as payloads arrive: parse and count each inline, until the subscription ends.</summary>
    internal async Task ConsumeAsync(FeedSubscription subscription, CancellationToken cancellationToken)
    {
        while (await subscription.WaitToReadAsync(cancellationToken))
        {
            Drain(subscription.Pending);
        }
    }

    /// <summary>Counts every payload pending now; returns how many.</summary>
    internal int Drain(PendingPayloads pending)
    {
        var maxBytes = options.Value.MaxMessageBytes;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var count = 0;
        while (pending.TryPeek(out var payload))
        {
            Count(payload, maxBytes, now);
            pending.Advance();
            count++;
        }

        return count;
    }

    /// <summary>A payload over TRACKER_MAX_MESSAGE_BYTES, counted by the socket reader without being copied or parsed.</summary>
    internal void CountTooLarge(ReadOnlySequence<byte> payload)
    {
        stats.Invalid1(InvalidReason.TooLarge, (int)payload.Length);
        if (_invalidSample is null)
        {
            Span<byte> head = stackalloc byte[160];
            payload.Slice(0, head.Length).CopyTo(head);
            lock (_sampleGate)
            {
                _invalidSample ??= $"{FeedEnvelope.Label(InvalidReason.TooLarge)}: {TrackerStats.Sample(head)}… ({payload.Length} bytes)";
            }
        }
    }

    internal void Count(ReadOnlySpan<byte> payload, int maxBytes, long receivedMs)
    {
        var parsed = FeedEnvelope.Parse(payload, maxBytes);
        if (parsed.IsValid)
        {
            stats.Received1(parsed.EventType, parsed.Symbol, payload.Length, receivedMs, parsed.EventTimeMs);
            return;
        }

        stats.Invalid1(parsed.Invalid, payload.Length);
        if (_invalidSample is null)
        {
            lock (_sampleGate)
            {
                _invalidSample ??= $"{FeedEnvelope.Label(parsed.Invalid)}: {TrackerStats.Sample(payload)}";
            }
        }
    }

    private async Task SummariseInvalidAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var total = stats.TotalInvalid;
                if (total == _invalidAtLastSummary)
                {
                    continue;
                }

                string? sample;
                lock (_sampleGate)
                {
                    sample = _invalidSample;
                    _invalidSample = null;
                }

                var reasons = string.Join(", ", stats.InvalidByReason().Select(r => $"{r.Key}={r.Value}"));
                LogInvalidSummary(logger, total - _invalidAtLastSummary, reasons, sample ?? "");
                _invalidAtLastSummary = total;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tracking {Subject} (queue group {QueueGroup}, pending buffer {PendingBytes} bytes, at most {PendingMessages} messages)")]
    private static partial void LogSubscribed(ILogger logger, string subject, string queueGroup, int pendingBytes, int pendingMessages);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscription to {Subject} ended: {Error}; subscribing again")]
    private static partial void LogSubscriptionFailed(ILogger logger, string subject, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} invalid feed messages in the last minute (since start: {Reasons}); sample: {Sample}")]
    private static partial void LogInvalidSummary(ILogger logger, long count, string reasons, string sample);
}
