using System.Buffers.Text;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;

namespace DataManager.Tracking;

/// <summary>The event types the tracker labels; anything else well-formed is <see cref="Unknown"/>.</summary>
public enum FeedEventType : byte
{
    Unknown,
    Trade,
    AggTrade,
    Ticker24h,
    DepthUpdate,
    PartialDepth,
    MarkPriceUpdate,
    Kline,
    BookTicker,
    ForceOrder,
}

/// <summary>Why a message was not counted as received.</summary>
public enum InvalidReason : byte
{
    None,
    Empty,
    TooLarge,
    NotJson,
    Truncated,
    NotObject,
    TooDeep,
    NoData,
    NoSymbol,
    BadSymbol,
}

/// <summary>What one envelope says, without allocating: the symbol is a slice of the payload.</summary>
public readonly ref struct ParsedEnvelope
{
    public ParsedEnvelope(InvalidReason invalid)
    {
        Invalid = invalid;
        Symbol = default;
        EventType = FeedEventType.Unknown;
        EventTimeMs = null;
    }

    public ParsedEnvelope(FeedEventType eventType, ReadOnlySpan<byte> symbol, long? eventTimeMs)
    {
        Invalid = InvalidReason.None;
        EventType = eventType;
        Symbol = symbol;
        EventTimeMs = eventTimeMs;
    }

    public InvalidReason Invalid { get; }

    public FeedEventType EventType { get; }

    /// <summary>The symbol's bytes as they appear (<c>data.s</c>, or the stream prefix before '@', not yet upper-cased).</summary>
    public ReadOnlySpan<byte> Symbol { get; }

    /// <summary><c>data.E</c>, the exchange's event time in Unix milliseconds, when present.</summary>
    public long? EventTimeMs { get; }

    public bool IsValid => Invalid == InvalidReason.None;
}

/// <summary>
/// Reads the NATS envelope of the Binance futures feed (<c>{"stream": …, "data": {"e", "E", "s", …}, …}</c>)
/// straight from the payload bytes: no DOM, no string per message, any key order. The symbol is
/// <c>data.s</c>, else the stream prefix before the first '@' (depth snapshots carry no <c>s</c>;
/// <c>forceOrder</c> nests it in <c>data.o.s</c>). The event type is <c>data.e</c>, else derived from the
/// stream name. Pure: bytes in, a small struct out.
/// </summary>
public static class FeedEnvelope
{
    public const int MaxDepth = 32;

    public static ParsedEnvelope Parse(ReadOnlySpan<byte> payload, int maxBytes)
    {
        if (payload.IsEmpty)
        {
            return new ParsedEnvelope(InvalidReason.Empty);
        }

        if (payload.Length > maxBytes)
        {
            return new ParsedEnvelope(InvalidReason.TooLarge);
        }

        // The scan accepts only what the feed sends: one well-formed object of plain ASCII strings (no escapes),
        // nested at most MaxDepth − 1 deep. Anything else, malformed or merely unusual, goes to the reader, whose
        // verdict (and reason) is the one that counts.
        return TryScan(payload, out var fields) ? Finish(payload, fields) : ParseWithReader(payload);
    }

    /// <summary>The reference path: <see cref="Utf8JsonReader"/> tokenises every value. The payload is neither empty nor too large.</summary>
    internal static ParsedEnvelope ParseWithReader(ReadOnlySpan<byte> payload)
    {
        try
        {
            return ReadJson(payload);
        }
        catch (JsonException e) when (e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase))
        {
            return new ParsedEnvelope(InvalidReason.TooDeep);
        }
        catch (JsonException)
        {
            return new ParsedEnvelope(InvalidReason.NotJson);
        }
    }

    /// <summary>Where the envelope's fields lie in the payload (start −1: absent).</summary>
    internal struct EnvelopeFields
    {
        public int StreamStart;
        public int StreamLength;
        public int SymbolStart;
        public int SymbolLength;
        public int TypeStart;
        public int TypeLength;
        public long? EventTime;
        public bool SawData;
        public bool BadSymbol;

        public static EnvelopeFields None => new() { StreamStart = -1, SymbolStart = -1, TypeStart = -1 };
    }

    private static ParsedEnvelope Finish(ReadOnlySpan<byte> payload, EnvelopeFields fields)
    {
        if (!fields.SawData)
        {
            return new ParsedEnvelope(InvalidReason.NoData);
        }

        if (fields.BadSymbol)
        {
            return new ParsedEnvelope(InvalidReason.BadSymbol);
        }

        var stream = fields.StreamStart >= 0 ? payload.Slice(fields.StreamStart, fields.StreamLength) : default;
        var symbol = fields.SymbolStart >= 0 ? payload.Slice(fields.SymbolStart, fields.SymbolLength) : StreamPrefix(stream);
        if (symbol.IsEmpty)
        {
            return new ParsedEnvelope(InvalidReason.NoSymbol);
        }

        if (!IsSymbol(symbol))
        {
            return new ParsedEnvelope(InvalidReason.BadSymbol);
        }

        var type = fields.TypeStart >= 0 ? TypeFromEvent(payload.Slice(fields.TypeStart, fields.TypeLength)) : TypeFromStream(stream);
        return new ParsedEnvelope(type, symbol, fields.EventTime);
    }

    /// <summary>
    /// One pass over the bytes that proves the payload a single well-formed JSON object and notes where
    /// <c>stream</c>, <c>data.e</c>, <c>data.E</c> and <c>data.s</c> lie. Values nobody reads (the depth
    /// levels, nested objects) are validated byte by byte without being turned into tokens. False when the
    /// payload is not plainly well-formed; the caller then asks the reader why. The helpers return the
    /// position after what they read, −1 when it is not there, so the position stays in a register.
    /// </summary>
    internal static bool TryScan(ReadOnlySpan<byte> p, out EnvelopeFields fields)
    {
        fields = EnvelopeFields.None;
        var i = SkipSpace(p, 0);
        if (i < 0 || p[i] != '{' || (i = SkipSpace(p, i + 1)) < 0)
        {
            return false;
        }

        if (p[i] != '}')
        {
            while (true)
            {
                var keyStart = i + 1;
                if ((i = ScanString(p, i)) < 0)
                {
                    return false;
                }

                var key = p[keyStart..(i - 1)];
                if ((i = SkipColon(p, i)) < 0)
                {
                    return false;
                }

                if (p[i] == '{' && key.SequenceEqual("data"u8))
                {
                    fields.SawData = true;
                    i = ScanData(p, i, ref fields);
                }
                else if (p[i] == '"')
                {
                    var start = i + 1;
                    if ((i = ScanString(p, i)) >= 0 && key.SequenceEqual("stream"u8))
                    {
                        (fields.StreamStart, fields.StreamLength) = (start, i - 1 - start);
                    }
                }
                else
                {
                    i = SkipValue(p, i, depth: 1);
                }

                if (i < 0 || (i = SkipSpace(p, i)) < 0)
                {
                    return false;
                }

                if (p[i] == ',')
                {
                    if ((i = SkipSpace(p, i + 1)) < 0)
                    {
                        return false;
                    }

                    continue;
                }

                if (p[i] != '}')
                {
                    return false;
                }

                break;
            }
        }

        return SkipSpace(p, i + 1) < 0; // nothing after the object but white space
    }

    /// <summary>The <c>data</c> object (depth 2), from its '{' to just past its '}'.</summary>
    private static int ScanData(ReadOnlySpan<byte> p, int i, ref EnvelopeFields fields)
    {
        if ((i = SkipSpace(p, i + 1)) < 0)
        {
            return -1;
        }

        if (p[i] == '}')
        {
            return i + 1;
        }

        while (true)
        {
            var keyStart = i + 1;
            if ((i = ScanString(p, i)) < 0)
            {
                return -1;
            }

            var key = i - keyStart == 2 ? p[keyStart] : (byte)0; // the one-letter keys e, E, s
            if ((i = SkipColon(p, i)) < 0)
            {
                return -1;
            }

            var start = i;
            if (p[i] == '"')
            {
                if ((i = ScanString(p, i)) < 0)
                {
                    return -1;
                }

                if (key == 'e')
                {
                    (fields.TypeStart, fields.TypeLength) = (start + 1, i - start - 2);
                }
                else if (key == 's')
                {
                    (fields.SymbolStart, fields.SymbolLength, fields.BadSymbol) = (start + 1, i - start - 2, false);
                }
            }
            else
            {
                if ((i = SkipValue(p, i, depth: 2)) < 0)
                {
                    return -1;
                }

                if (key == 's')
                {
                    // Present but not a plain string: invalid, whatever the stream says.
                    (fields.SymbolStart, fields.SymbolLength, fields.BadSymbol) = (-1, 0, true);
                }
                else if (key == 'E' && p[start] is (byte)'-' or (>= (byte)'0' and <= (byte)'9')
                    && Utf8Parser.TryParse(p[start..i], out long ms, out var consumed) && consumed == i - start)
                {
                    fields.EventTime = ms;
                }
            }

            if ((i = SkipSpace(p, i)) < 0)
            {
                return -1;
            }

            if (p[i] == ',')
            {
                if ((i = SkipSpace(p, i + 1)) < 0)
                {
                    return -1;
                }

                continue;
            }

            return p[i] == '}' ? i + 1 : -1;
        }
    }

    /// <summary>The first byte at or after <paramref name="i"/> that is not white space; −1 when the payload ends first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SkipSpace(ReadOnlySpan<byte> p, int i) =>
        (uint)i < (uint)p.Length && p[i] > ' ' ? i : SkipSpaceSlow(p, i); // the feed's JSON is compact

    private static int SkipSpaceSlow(ReadOnlySpan<byte> p, int i)
    {
        while ((uint)i < (uint)p.Length)
        {
            var c = p[i];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            {
                return i;
            }

            i++;
        }

        return -1;
    }

    /// <summary>From after a property name, past white space, ':' and white space to the value's first byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SkipColon(ReadOnlySpan<byte> p, int i)
    {
        i = SkipSpace(p, i);
        return i >= 0 && p[i] == ':' ? SkipSpace(p, i + 1) : -1;
    }

    /// <summary>
    /// A string at <paramref name="i"/> to just past its closing quote, if it holds only printable ASCII
    /// without backslashes (the reader decides on escapes, control characters and other text), sixteen bytes
    /// at a time: as signed bytes, both controls and non-ASCII are below ' '.
    /// </summary>
    private static int ScanString(ReadOnlySpan<byte> p, int i)
    {
        if ((uint)i >= (uint)p.Length || p[i] != '"')
        {
            return -1;
        }

        var j = i + 1;
        if (Vector128.IsHardwareAccelerated)
        {
            ref var first = ref MemoryMarshal.GetReference(p);
            while (j <= p.Length - Vector128<byte>.Count)
            {
                var block = Vector128.LoadUnsafe(ref first, (nuint)j);
                var special = Vector128.Equals(block, Vector128.Create((byte)'"'))
                    | Vector128.Equals(block, Vector128.Create((byte)'\\'))
                    | Vector128.LessThan(block.AsSByte(), Vector128.Create((sbyte)' ')).AsByte();
                var mask = special.ExtractMostSignificantBits();
                if (mask != 0)
                {
                    j += BitOperations.TrailingZeroCount(mask);
                    return p[j] == '"' ? j + 1 : -1;
                }

                j += Vector128<byte>.Count;
            }
        }

        for (; j < p.Length; j++)
        {
            var c = p[j];
            if (c == '"')
            {
                return j + 1;
            }

            if (c == '\\' || (sbyte)c < ' ')
            {
                return -1;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SkipValue(ReadOnlySpan<byte> p, int i, int depth) =>
        p[i] is (byte)'{' or (byte)'[' ? SkipContainer(p, i, depth) : SkipScalar(p, i);

    private static int SkipScalar(ReadOnlySpan<byte> p, int i) => p[i] switch
    {
        (byte)'"' => ScanString(p, i),
        (byte)'t' => SkipLiteral(p, i, "true"u8),
        (byte)'f' => SkipLiteral(p, i, "false"u8),
        (byte)'n' => SkipLiteral(p, i, "null"u8),
        _ => SkipNumber(p, i),
    };

    private static int SkipLiteral(ReadOnlySpan<byte> p, int i, ReadOnlySpan<byte> literal) =>
        p[i..].StartsWith(literal) ? i + literal.Length : -1;

    /// <summary>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; the caller checks what follows it.</summary>
    private static int SkipNumber(ReadOnlySpan<byte> p, int i)
    {
        if (p[i] == '-')
        {
            i++;
        }

        if ((uint)i >= (uint)p.Length)
        {
            return -1;
        }

        i = p[i] == '0' ? i + 1 : SkipDigits(p, i);
        if (i >= 0 && i < p.Length && p[i] == '.')
        {
            i = SkipDigits(p, i + 1);
        }

        if (i >= 0 && i < p.Length && (p[i] | 0x20) == 'e')
        {
            i++;
            if (i < p.Length && p[i] is (byte)'+' or (byte)'-')
            {
                i++;
            }

            i = SkipDigits(p, i);
        }

        return i;
    }

    /// <summary>One or more digits.</summary>
    private static int SkipDigits(ReadOnlySpan<byte> p, int i)
    {
        var first = i;
        while ((uint)i < (uint)p.Length && p[i] - (uint)'0' <= 9)
        {
            i++;
        }

        return i > first ? i : -1;
    }

    /// <summary>
    /// An array or object at <paramref name="i"/> inside containers <paramref name="depth"/> deep, to just past
    /// its end, validated without recursion: one bit per level says whether that level is an object.
    /// </summary>
    private static int SkipContainer(ReadOnlySpan<byte> p, int i, int depth)
    {
        var outer = depth;
        var objects = 0UL;
        bool isObject;
    Open:
        isObject = p[i] == '{';
        if (++depth >= MaxDepth)
        {
            return -1; // the reader says whether it is too deep
        }

        objects = isObject ? objects | (1UL << depth) : objects & ~(1UL << depth);
        if ((i = SkipSpace(p, i + 1)) < 0)
        {
            return -1;
        }

        if (p[i] == (isObject ? '}' : ']'))
        {
            goto Closed;
        }

    Element:
        if (isObject && ((i = ScanString(p, i)) < 0 || (i = SkipColon(p, i)) < 0))
        {
            return -1;
        }

        if (p[i] is (byte)'{' or (byte)'[')
        {
            goto Open;
        }

        if ((i = SkipScalar(p, i)) < 0)
        {
            return -1;
        }

    AfterValue:
        if ((i = SkipSpace(p, i)) < 0)
        {
            return -1;
        }

        if (p[i] == ',')
        {
            if ((i = SkipSpace(p, i + 1)) < 0)
            {
                return -1;
            }

            goto Element;
        }

        if (p[i] != (isObject ? '}' : ']'))
        {
            return -1;
        }

    Closed:
        i++;
        if (--depth == outer)
        {
            return i;
        }

        isObject = (objects & (1UL << depth)) != 0;
        goto AfterValue;
    }

    private static ParsedEnvelope ReadJson(ReadOnlySpan<byte> payload)
    {
        // isFinalBlock: false makes an incomplete payload end Read() with false instead of an exception.
        var reader = new Utf8JsonReader(payload, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { MaxDepth = MaxDepth }));
        if (!reader.Read())
        {
            return new ParsedEnvelope(InvalidReason.Truncated);
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return new ParsedEnvelope(InvalidReason.NotObject);
        }

        var fields = EnvelopeFields.None;
        while (true)
        {
            if (!reader.Read())
            {
                return new ParsedEnvelope(InvalidReason.Truncated);
            }

            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            if (reader.ValueTextEquals("data"u8))
            {
                if (!reader.Read())
                {
                    return new ParsedEnvelope(InvalidReason.Truncated);
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    if (!reader.TrySkip())
                    {
                        return new ParsedEnvelope(InvalidReason.Truncated);
                    }

                    continue;
                }

                fields.SawData = true;
                while (true)
                {
                    if (!reader.Read())
                    {
                        return new ParsedEnvelope(InvalidReason.Truncated);
                    }

                    if (reader.TokenType == JsonTokenType.EndObject)
                    {
                        break; // nested values are skipped whole, so this closes data
                    }

                    var key = reader.ValueTextEquals("e"u8) ? 'e' : reader.ValueTextEquals("E"u8) ? 'E' : reader.ValueTextEquals("s"u8) ? 's' : ' ';
                    if (!TryReadValue(ref reader, out var start, out var length))
                    {
                        return new ParsedEnvelope(InvalidReason.Truncated);
                    }

                    switch (key)
                    {
                        case 'e' when start >= 0:
                            (fields.TypeStart, fields.TypeLength) = (start, length);
                            break;
                        case 'E' when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var ms):
                            fields.EventTime = ms;
                            break;
                        case 's':
                            // Present but not a plain string: invalid, whatever the stream says.
                            (fields.SymbolStart, fields.SymbolLength, fields.BadSymbol) = (start, length, start < 0);
                            break;
                    }
                }
            }
            else
            {
                var isStream = reader.ValueTextEquals("stream"u8);
                if (!TryReadValue(ref reader, out var start, out var length))
                {
                    return new ParsedEnvelope(InvalidReason.Truncated);
                }

                if (isStream && start >= 0)
                {
                    (fields.StreamStart, fields.StreamLength) = (start, length);
                }
            }
        }

        // One complete object, and nothing after it but white space.
        var rest = payload[(int)reader.BytesConsumed..];
        if (rest.Trim(" \t\r\n"u8).Length > 0)
        {
            return new ParsedEnvelope(InvalidReason.NotJson);
        }

        return Finish(payload, fields);
    }

    /// <summary>
    /// Moves to the value of the property just read. A plain (unescaped) string's position in the payload is
    /// returned; any other value is skipped whole (start = −1), so nothing inside it is mistaken for a field.
    /// False when the payload ends first.
    /// </summary>
    private static bool TryReadValue(ref Utf8JsonReader reader, out int start, out int length)
    {
        start = -1;
        length = 0;
        if (!reader.Read())
        {
            return false;
        }

        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
        {
            start = (int)reader.TokenStartIndex + 1;
            length = reader.ValueSpan.Length;
            return true;
        }

        return reader.TrySkip();
    }

    private static ReadOnlySpan<byte> StreamPrefix(ReadOnlySpan<byte> stream)
    {
        var at = stream.IndexOf((byte)'@');
        return at > 0 ? stream[..at] : default;
    }

    /// <summary>2 to 20 letters or digits (either case: stream prefixes are lower-case).</summary>
    public static bool IsSymbol(ReadOnlySpan<byte> symbol)
    {
        if (symbol.Length is < 2 or > 20)
        {
            return false;
        }

        foreach (var b in symbol)
        {
            if (b is not ((>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9')))
            {
                return false;
            }
        }

        return true;
    }

    public static FeedEventType TypeFromEvent(ReadOnlySpan<byte> e) => e switch
    {
        _ when e.SequenceEqual("trade"u8) => FeedEventType.Trade,
        _ when e.SequenceEqual("aggTrade"u8) => FeedEventType.AggTrade,
        _ when e.SequenceEqual("24hrTicker"u8) => FeedEventType.Ticker24h,
        _ when e.SequenceEqual("depthUpdate"u8) => FeedEventType.DepthUpdate,
        _ when e.SequenceEqual("markPriceUpdate"u8) => FeedEventType.MarkPriceUpdate,
        _ when e.SequenceEqual("kline"u8) => FeedEventType.Kline,
        _ when e.SequenceEqual("bookTicker"u8) => FeedEventType.BookTicker,
        _ when e.SequenceEqual("forceOrder"u8) => FeedEventType.ForceOrder,
        _ => FeedEventType.Unknown,
    };

    /// <summary>Without <c>e</c> (partial depth snapshots): the stream name, e.g. <c>btcusdt@depth20@100ms</c>.</summary>
    public static FeedEventType TypeFromStream(ReadOnlySpan<byte> stream)
    {
        var at = stream.IndexOf((byte)'@');
        if (at < 0)
        {
            return FeedEventType.Unknown;
        }

        var name = stream[(at + 1)..];
        return name switch
        {
            _ when name.StartsWith("depth"u8) => FeedEventType.PartialDepth,
            _ when name.StartsWith("kline_"u8) => FeedEventType.Kline,
            _ when name.SequenceEqual("aggTrade"u8) => FeedEventType.AggTrade,
            _ when name.SequenceEqual("trade"u8) => FeedEventType.Trade,
            _ when name.SequenceEqual("ticker"u8) => FeedEventType.Ticker24h,
            _ when name.StartsWith("markPrice"u8) => FeedEventType.MarkPriceUpdate,
            _ when name.SequenceEqual("bookTicker"u8) => FeedEventType.BookTicker,
            _ when name.SequenceEqual("forceOrder"u8) => FeedEventType.ForceOrder,
            _ => FeedEventType.Unknown,
        };
    }

    /// <summary>The Prometheus label of an event type (Binance's own names; <c>depth</c> for partial snapshots).</summary>
    public static string Label(FeedEventType type) => type switch
    {
        FeedEventType.Trade => "trade",
        FeedEventType.AggTrade => "aggTrade",
        FeedEventType.Ticker24h => "24hrTicker",
        FeedEventType.DepthUpdate => "depthUpdate",
        FeedEventType.PartialDepth => "depth",
        FeedEventType.MarkPriceUpdate => "markPriceUpdate",
        FeedEventType.Kline => "kline",
        FeedEventType.BookTicker => "bookTicker",
        FeedEventType.ForceOrder => "forceOrder",
        _ => "unknown",
    };

    public static string Label(InvalidReason reason) => reason switch
    {
        InvalidReason.Empty => "empty",
        InvalidReason.TooLarge => "too_large",
        InvalidReason.NotJson => "not_json",
        InvalidReason.Truncated => "truncated",
        InvalidReason.NotObject => "not_object",
        InvalidReason.TooDeep => "too_deep",
        InvalidReason.NoData => "no_data",
        InvalidReason.NoSymbol => "no_symbol",
        InvalidReason.BadSymbol => "bad_symbol",
        _ => "none",
    };
}
