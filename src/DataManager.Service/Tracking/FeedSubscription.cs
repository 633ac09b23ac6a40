using System.Buffers;
using System.Threading.Channels;
using NATS.Client.Core;

namespace DataManager.Tracking;

/// <summary>
/// The feed subscription at the client's lower level: the socket reader hands each payload to
/// <see cref="ReceiveInternalAsync"/>, which copies it into <see cref="PendingPayloads"/> or, when that is full,
/// counts it as dropped. The client's own message channel (a struct, a subject string and a pooled buffer per
/// waiting message) is never used, so a burst costs the ring's bytes only.
/// </summary>
public sealed class FeedSubscription : NatsSubBase
{
    private readonly PendingPayloads _pending;
    private readonly Action<ReadOnlySequence<byte>> _tooLarge;
    private readonly Action _dropped;
    private readonly int _maxMessageBytes;
    // At most one wake-up waits; not disposable, so the socket reader can never signal a disposed object.
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private int _waiting;
    private volatile bool _ended;

    private FeedSubscription(INatsConnection connection, string subject, string? queueGroup, PendingPayloads pending, int maxMessageBytes,
        Action<ReadOnlySequence<byte>> tooLarge, Action dropped, CancellationToken cancellationToken)
        : base(connection, connection.SubscriptionManager, subject, queueGroup, opts: null, cancellationToken)
    {
        _pending = pending;
        _maxMessageBytes = maxMessageBytes;
        _tooLarge = tooLarge;
        _dropped = dropped;
    }

    public PendingPayloads Pending => _pending;

    /// <summary>Subscribes; payloads over <paramref name="maxMessageBytes"/> go to <paramref name="tooLarge"/> without being copied.</summary>
    public static async Task<FeedSubscription> SubscribeAsync(INatsConnection connection, string subject, string? queueGroup, PendingPayloads pending,
        int maxMessageBytes, Action<ReadOnlySequence<byte>> tooLarge, Action dropped, CancellationToken cancellationToken)
    {
        var subscription = new FeedSubscription(connection, subject, queueGroup, pending, maxMessageBytes, tooLarge, dropped, cancellationToken);
        await connection.AddSubAsync(subscription, cancellationToken);
        return subscription;
    }

    /// <summary>Consumer: true when a payload is pending; false once the subscription has ended and all is read.</summary>
    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_pending.IsEmpty)
            {
                return true;
            }

            if (_ended)
            {
                return !_pending.IsEmpty;
            }

            Interlocked.Exchange(ref _waiting, 1);
            if (!_pending.IsEmpty || _ended)
            {
                Volatile.Write(ref _waiting, 0);
                continue;
            }

            await _signal.Reader.ReadAsync(cancellationToken);
        }
    }

    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        if (payloadBuffer.Length > _maxMessageBytes)
        {
            _tooLarge(payloadBuffer);
        }
        else if (!_pending.TryWrite(payloadBuffer))
        {
            _dropped();
        }
        else if (Volatile.Read(ref _waiting) == 1 && Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _signal.Writer.TryWrite(true);
        }

        return ValueTask.CompletedTask;
    }

    protected override void TryComplete()
    {
        // May run from the base constructor, before this class's fields are set.
        _ended = true;
        _signal?.Writer.TryWrite(true);
    }
}
