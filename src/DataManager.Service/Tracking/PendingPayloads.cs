using System.Buffers;
using System.Buffers.Binary;

namespace DataManager.Tracking;

/// <summary>
/// The tracker's pending buffer: one fixed byte ring, written by the NATS socket reader (one producer) and read by
/// the receive loop (one consumer). Each payload is copied in behind a 4-byte length, so what waits costs its bytes
/// and nothing else: no object per message for the GC to promote while the loop catches up, and the memory is the
/// ring's, whatever the rate. A payload that does not fit (bytes or message count) is refused: the caller counts it
/// as dropped.
/// </summary>
public sealed class PendingPayloads
{
    private const int HeaderBytes = sizeof(int);

    // Written where a record would not fit before the end of the ring: the next record starts the next lap.
    private const int WrapMarker = -1;

    private readonly byte[] _ring;
    private readonly int _maxMessages;
    private long _written; // bytes, advanced by the producer only
    private long _read; // bytes, advanced by the consumer only
    private long _messagesWritten;
    private long _messagesRead;
    private long _peekEnd;

    public PendingPayloads(int capacityBytes, int maxMessages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 64);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        _ring = GC.AllocateUninitializedArray<byte>(capacityBytes);
        _maxMessages = maxMessages;
    }

    public int CapacityBytes => _ring.Length;

    /// <summary>Bytes held, headers and the skipped end of a lap included.</summary>
    public long PendingBytes => Volatile.Read(ref _written) - Volatile.Read(ref _read);

    public long PendingMessages => Volatile.Read(ref _messagesWritten) - Volatile.Read(ref _messagesRead);

    /// <summary>The most bytes ever held at once.</summary>
    public long PeakBytes { get; private set; }

    public bool IsEmpty => Volatile.Read(ref _written) == Volatile.Read(ref _read);

    /// <summary>Producer: copies the payload in; false (nothing written) when it does not fit now.</summary>
    public bool TryWrite(in ReadOnlySequence<byte> payload)
    {
        var length = payload.Length;
        var need = HeaderBytes + length;
        var written = _written;
        if (_messagesWritten - Volatile.Read(ref _messagesRead) >= _maxMessages || need > _ring.Length)
        {
            return false;
        }

        var offset = (int)(written % _ring.Length);
        var tail = _ring.Length - offset;
        var skip = tail < need ? tail : 0;
        var end = written + skip + need;
        if (end - Volatile.Read(ref _read) > _ring.Length)
        {
            return false;
        }

        if (skip > 0)
        {
            if (tail >= HeaderBytes)
            {
                BinaryPrimitives.WriteInt32LittleEndian(_ring.AsSpan(offset), WrapMarker);
            }

            offset = 0;
        }

        BinaryPrimitives.WriteInt32LittleEndian(_ring.AsSpan(offset), (int)length);
        payload.CopyTo(_ring.AsSpan(offset + HeaderBytes, (int)length));
        Volatile.Write(ref _messagesWritten, _messagesWritten + 1);
        PeakBytes = Math.Max(PeakBytes, end - Volatile.Read(ref _read));

        // A full fence: the consumer checks for data after saying it waits, and the producer checks whether it
        // waits after publishing the data (see FeedSubscription), so neither can miss the other.
        Interlocked.Exchange(ref _written, end);
        return true;
    }

    /// <summary>Consumer: the oldest payload, valid until <see cref="Advance"/>; false when the ring is empty.</summary>
    public bool TryPeek(out ReadOnlySpan<byte> payload)
    {
        var read = _read;
        if (read == Volatile.Read(ref _written))
        {
            payload = default;
            return false;
        }

        var offset = (int)(read % _ring.Length);
        var tail = _ring.Length - offset;
        if (tail < HeaderBytes || BinaryPrimitives.ReadInt32LittleEndian(_ring.AsSpan(offset)) == WrapMarker)
        {
            read += tail;
            offset = 0;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(_ring.AsSpan(offset));
        payload = _ring.AsSpan(offset + HeaderBytes, length);
        _peekEnd = read + HeaderBytes + length;
        return true;
    }

    /// <summary>Consumer: releases the payload the last <see cref="TryPeek"/> returned.</summary>
    public void Advance()
    {
        Volatile.Write(ref _messagesRead, _messagesRead + 1);
        Volatile.Write(ref _read, _peekEnd);
    }
}
