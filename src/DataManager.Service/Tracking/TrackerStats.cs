using System.Text;

namespace DataManager.Tracking;

/// <summary>
/// What the tracker has counted since start, in fixed arrays written by the one receive loop and read by
/// /api/tracker and Prometheus (exported at scrape time, so the loop itself touches no metric object).
/// Labels are bounded: event types from a fixed list, symbols from SUPPORTED_PAIRS (or, with
/// TRACK_ALL_SYMBOLS, the first <see cref="MaxSymbols"/> seen), everything else under <c>other</c>.
/// </summary>
public sealed class TrackerStats
{
    public const int MaxSymbols = 500;
    public const string Other = "other";

    private static readonly int EventTypes = Enum.GetValues<FeedEventType>().Length;
    private static readonly int Reasons = Enum.GetValues<InvalidReason>().Length;

    private readonly Dictionary<string, int> _symbolIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string[] _symbols = new string[MaxSymbols + 1];
    private readonly long[] _received = new long[(MaxSymbols + 1) * EventTypes];
    private readonly long[] _lastSeenMs = new long[MaxSymbols + 1];
    private readonly double[] _lastLatency = new double[MaxSymbols + 1];
    private readonly long[] _invalid = new long[Reasons];
    private readonly long[] _exported;
    private readonly long[] _exportedInvalid = new long[Reasons];
    private readonly bool _trackAll;
    private readonly TrackerMetrics _metrics;
    private int _symbolCount;
    private long _bytes;
    private long _exportedBytes;
    private long _dropped;
    private long _exportedDropped;
    private long _skew;
    private long _exportedSkew;
    private long _lastReceivedMs;

    public TrackerStats(IEnumerable<string> supportedPairs, bool trackAllSymbols, TrackerMetrics metrics)
    {
        _metrics = metrics;
        _lookup = _symbolIndex.GetAlternateLookup<ReadOnlySpan<char>>();
        _symbols[0] = Other;
        _symbolCount = 1;
        foreach (var pair in supportedPairs)
        {
            AddSymbol(pair);
        }

        _trackAll = trackAllSymbols;
        _exported = new long[_received.Length];
    }

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>Counts one received message (called only by the receive loop).</summary>
    public void Received1(FeedEventType type, ReadOnlySpan<byte> symbol, int bytes, long receivedMs, long? eventTimeMs)
    {
        var slot = Slot(symbol);
        Interlocked.Increment(ref _received[(slot * EventTypes) + (int)type]);
        Interlocked.Add(ref _bytes, bytes);
        Volatile.Write(ref _lastSeenMs[slot], receivedMs);
        Volatile.Write(ref _lastReceivedMs, receivedMs);
        if (eventTimeMs is { } eventTime)
        {
            var latency = (receivedMs - eventTime) / 1000.0;
            if (latency < 0)
            {
                Interlocked.Increment(ref _skew);
                latency = 0;
            }

            Volatile.Write(ref _lastLatency[slot], latency);
            _metrics.Latency.Observe(latency);
        }
    }

    public void Invalid1(InvalidReason reason, int bytes)
    {
        Interlocked.Increment(ref _invalid[(int)reason]);
        Interlocked.Add(ref _bytes, bytes);
    }

    public void Dropped1() => Interlocked.Increment(ref _dropped);

    public long TotalReceived => Sum(_received);

    public long TotalInvalid => Sum(_invalid);

    public long TotalBytes => Volatile.Read(ref _bytes);

    public long TotalDropped => Volatile.Read(ref _dropped);

    public DateTimeOffset? LastReceived => Volatile.Read(ref _lastReceivedMs) is var ms and > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    public IReadOnlyDictionary<string, long> InvalidByReason() =>
        Enum.GetValues<InvalidReason>().Where(r => r != InvalidReason.None && Volatile.Read(ref _invalid[(int)r]) > 0)
            .ToDictionary(FeedEnvelope.Label, r => Volatile.Read(ref _invalid[(int)r]));

    public IReadOnlyDictionary<string, long> ByEventType() =>
        Enum.GetValues<FeedEventType>()
            .Select(t => (Label: FeedEnvelope.Label(t), Count: Enumerable.Range(0, Volatile.Read(ref _symbolCount)).Sum(s => Volatile.Read(ref _received[(s * EventTypes) + (int)t]))))
            .Where(t => t.Count > 0)
            .ToDictionary(t => t.Label, t => t.Count);

    public IReadOnlyList<SymbolStats> BySymbol() =>
        [.. Enumerable.Range(0, Volatile.Read(ref _symbolCount))
            .Select(s => new SymbolStats(
                _symbols[s],
                Enumerable.Range(0, EventTypes).Sum(t => Volatile.Read(ref _received[(s * EventTypes) + t])),
                Volatile.Read(ref _lastSeenMs[s]) is var ms and > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null,
                Volatile.Read(ref _lastSeenMs[s]) > 0 ? Volatile.Read(ref _lastLatency[s]) : null))
            .Where(s => s.Count > 0)];

    /// <summary>The symbol's slot: its own when tracked, else 0 (<c>other</c>). Upper-cases without allocating.</summary>
    private int Slot(ReadOnlySpan<byte> symbol)
    {
        Span<char> upper = stackalloc char[20];
        var length = Math.Min(symbol.Length, upper.Length);
        for (var i = 0; i < length; i++)
        {
            var b = symbol[i];
            upper[i] = (char)(b is >= (byte)'a' and <= (byte)'z' ? b - 32 : b);
        }

        var key = upper[..length];
        if (_lookup.TryGetValue(key, out var slot))
        {
            return slot;
        }

        return _trackAll && _symbolCount <= MaxSymbols ? AddSymbol(new string(key)) : 0;
    }

    private int AddSymbol(string symbol)
    {
        lock (_symbolIndex)
        {
            if (_symbolIndex.TryGetValue(symbol, out var existing))
            {
                return existing;
            }

            if (_symbolCount > MaxSymbols)
            {
                return 0;
            }

            var slot = _symbolCount;
            _symbols[slot] = symbol;
            _symbolIndex[symbol] = slot;
            Volatile.Write(ref _symbolCount, slot + 1);
            return slot;
        }
    }

    /// <summary>Brings the Prometheus metrics up to the counts (called by the registry at scrape time).</summary>
    public void Export()
    {
        var symbols = Volatile.Read(ref _symbolCount);
        for (var s = 0; s < symbols; s++)
        {
            for (var t = 0; t < EventTypes; t++)
            {
                var i = (s * EventTypes) + t;
                var count = Volatile.Read(ref _received[i]);
                if (count != _exported[i])
                {
                    _metrics.Received.WithLabels(FeedEnvelope.Label((FeedEventType)t), _symbols[s]).Inc(count - _exported[i]);
                    _exported[i] = count;
                }
            }

            if (Volatile.Read(ref _lastSeenMs[s]) is var ms and > 0)
            {
                _metrics.LastMessage.WithLabels(_symbols[s]).Set(ms / 1000.0);
            }
        }

        for (var r = 1; r < Reasons; r++)
        {
            var count = Volatile.Read(ref _invalid[r]);
            if (count != _exportedInvalid[r])
            {
                _metrics.Invalid.WithLabels(FeedEnvelope.Label((InvalidReason)r)).Inc(count - _exportedInvalid[r]);
                _exportedInvalid[r] = count;
            }
        }

        _metrics.Bytes.Inc(Delta(ref _bytes, ref _exportedBytes));
        _metrics.Dropped.Inc(Delta(ref _dropped, ref _exportedDropped));
        _metrics.ClockSkew.Inc(Delta(ref _skew, ref _exportedSkew));
    }

    private static long Sum(long[] values)
    {
        long sum = 0;
        for (var i = 0; i < values.Length; i++)
        {
            sum += Volatile.Read(ref values[i]);
        }

        return sum;
    }

    private static long Delta(ref long value, ref long exported)
    {
        var now = Volatile.Read(ref value);
        var delta = now - exported;
        exported = now;
        return delta;
    }

    /// <summary>A printable, shortened sample of a bad payload for the log (never the whole of it).</summary>
    public static string Sample(ReadOnlySpan<byte> payload)
    {
        var text = Encoding.UTF8.GetString(payload[..Math.Min(payload.Length, 160)]);
        var clean = new string([.. text.Select(c => char.IsControl(c) ? '.' : c)]);
        return payload.Length > 160 ? clean + $"… ({payload.Length} bytes)" : clean;
    }
}

public sealed record SymbolStats(string Symbol, long Count, DateTimeOffset? LastSeen, double? LastLatencySeconds);
