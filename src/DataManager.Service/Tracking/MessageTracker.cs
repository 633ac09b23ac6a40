using System.Threading.Channels;
using DataManager.Configuration;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace DataManager.Tracking;

/// <summary>
/// Consumes the feed on every replica and measures it; stores nothing. The receive loop parses each payload
/// inline from pooled bytes and counts it (no allocation, no I/O per message); the client's bounded pending
/// buffer absorbs bursts and what overflows is counted as dropped. Invalid input is summarised at most once a
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
        if (connection is NatsConnection nats)
        {
            nats.MessageDropped += (_, _) =>
            {
                stats.Dropped1();
                return ValueTask.CompletedTask;
            };
        }

        using var summaries = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        var summary = SummariseInvalidAsync(summaries, stoppingToken);
        var opts = new NatsSubOpts
        {
            ChannelOpts = new NatsSubChannelOpts { Capacity = options.Value.PendingMessages, FullMode = BoundedChannelFullMode.DropNewest },
        };
        var queueGroup = options.Value.QueueGroup.Length == 0 ? null : options.Value.QueueGroup;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var subscription = await connection.SubscribeCoreAsync(options.Value.Subject, queueGroup, NatsRawSerializer<NatsMemoryOwner<byte>>.Default, opts, stoppingToken);
                LogSubscribed(logger, options.Value.Subject, queueGroup ?? "(none)", options.Value.PendingMessages);
                await ConsumeAsync(subscription.Msgs, stoppingToken);
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

    /// <summary>Drains the pending buffer: parse and count each message inline.</summary>
    internal async Task ConsumeAsync(ChannelReader<NatsMsg<NatsMemoryOwner<byte>>> messages, CancellationToken cancellationToken)
    {
        var maxBytes = options.Value.MaxMessageBytes;
        while (await messages.WaitToReadAsync(cancellationToken))
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            while (messages.TryRead(out var message))
            {
                using var owner = message.Data;
                Count(owner.Memory.Span, maxBytes, now);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Tracking {Subject} (queue group {QueueGroup}, pending buffer {Pending} messages)")]
    private static partial void LogSubscribed(ILogger logger, string subject, string queueGroup, int pending);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscription to {Subject} ended: {Error}; subscribing again")]
    private static partial void LogSubscriptionFailed(ILogger logger, string subject, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} invalid feed messages in the last minute (since start: {Reasons}); sample: {Sample}")]
    private static partial void LogInvalidSummary(ILogger logger, long count, string reasons, string sample);
}
