using System.Buffers;
using System.Buffers.Text;
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
    /// payload is not plainly well-formed; the caller then asks the reader why.
    /// </summary>
    internal static bool TryScan(ReadOnlySpan<byte> p, out EnvelopeFields fields)
    {
        fields = EnvelopeFields.None;
        var i = 0;
        if (!SkipSpace(p, ref i) || p[i] != '{')
        {
            return false;
        }

        i++;
        if (!SkipSpace(p, ref i))
        {
            return false;
        }

        if (p[i] != '}')
        {
            while (true)
            {
                if (!ScanString(p, ref i, out var keyStart))
                {
                    return false;
                }

                var key = p[keyStart..(i - 1)];
                if (!SkipColon(p, ref i))
                {
                    return false;
                }

                if (p[i] == '{' && key.SequenceEqual("data"u8))
                {
                    fields.SawData = true;
                    if (!ScanData(p, ref i, ref fields))
                    {
                        return false;
                    }
                }
                else if (p[i] == '"')
                {
                    if (!ScanString(p, ref i, out var start))
                    {
                        return false;
                    }

                    if (key.SequenceEqual("stream"u8))
                    {
                        (fields.StreamStart, fields.StreamLength) = (start, i - 1 - start);
                    }
                }
                else if (!SkipValue(p, ref i, depth: 1))
                {
                    return false;
                }

                if (!SkipSpace(p, ref i))
                {
                    return false;
                }

                if (p[i] == ',')
                {
                    i++;
                    if (!SkipSpace(p, ref i))
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

        i++;
        return !SkipSpace(p, ref i); // nothing after the object but white space
    }

    /// <summary>The <c>data</c> object (depth 2), from its '{' to just past its '}'.</summary>
    private static bool ScanData(ReadOnlySpan<byte> p, ref int i, ref EnvelopeFields fields)
    {
        i++;
        if (!SkipSpace(p, ref i))
        {
            return false;
        }

        if (p[i] == '}')
        {
            i++;
            return true;
        }

        while (true)
        {
            if (!ScanString(p, ref i, out var keyStart))
            {
                return false;
            }

            var key = i - keyStart == 2 ? p[keyStart] : (byte)0; // the one-letter keys e, E, s
            if (!SkipColon(p, ref i))
            {
                return false;
            }

            var valueStart = i;
            if (p[i] == '"')
            {
                if (!ScanString(p, ref i, out var start))
                {
                    return false;
                }

                if (key == 'e')
                {
                    (fields.TypeStart, fields.TypeLength) = (start, i - 1 - start);
                }
                else if (key == 's')
                {
                    (fields.SymbolStart, fields.SymbolLength, fields.BadSymbol) = (start, i - 1 - start, false);
                }
            }
            else
            {
                if (!SkipValue(p, ref i, depth: 2))
                {
                    return false;
                }

                if (key == 's')
                {
                    // Present but not a plain string: invalid, whatever the stream says.
                    (fields.SymbolStart, fields.SymbolLength, fields.BadSymbol) = (-1, 0, true);
                }
                else if (key == 'E' && p[valueStart] is (byte)'-' or (>= (byte)'0' and <= (byte)'9')
                    && Utf8Parser.TryParse(p[valueStart..i], out long ms, out var consumed) && consumed == i - valueStart)
                {
                    fields.EventTime = ms;
                }
            }

            if (!SkipSpace(p, ref i))
            {
                return false;
            }

            if (p[i] == ',')
            {
                i++;
                if (!SkipSpace(p, ref i))
                {
                    return false;
                }

                continue;
            }

            if (p[i] != '}')
            {
                return false;
            }

            i++;
            return true;
        }
    }

    /// <summary>Moves past white space; false when the payload ends first.</summary>
    private static bool SkipSpace(ReadOnlySpan<byte> p, ref int i)
    {
        while ((uint)i < (uint)p.Length)
        {
            var c = p[i];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            {
                return true;
            }

            i++;
        }

        return false;
    }

    /// <summary>From after a property name, past white space, ':' and white space to the value's first byte.</summary>
    private static bool SkipColon(ReadOnlySpan<byte> p, ref int i)
    {
        if (!SkipSpace(p, ref i) || p[i] != ':')
        {
            return false;
        }

        i++;
        return SkipSpace(p, ref i);
    }

    /// <summary>Bytes a plain string may hold as they are: printable ASCII but the quote and the backslash.</summary>
    private static readonly SearchValues<byte> PlainStringBytes = SearchValues.Create(
        [.. Enumerable.Range(0x20, 0x80 - 0x20).Where(b => b != '"' && b != '\\').Select(b => (byte)b)]);

    /// <summary>
    /// A string at <paramref name="i"/> with no escapes, control characters or non-ASCII bytes (the reader
    /// decides on those); <paramref name="start"/> is its first byte, <paramref name="i"/> ends past the closing quote.
    /// </summary>
    private static bool ScanString(ReadOnlySpan<byte> p, ref int i, out int start)
    {
        start = i + 1;
        if (p[i] != '"')
        {
            return false;
        }

        var rest = p[start..];
        var end = rest.IndexOfAnyExcept(PlainStringBytes);
        if (end < 0 || rest[end] != '"')
        {
            return false;
        }

        i = start + end + 1;
        return true;
    }

    private static bool SkipValue(ReadOnlySpan<byte> p, ref int i, int depth)
    {
        var c = p[i];
        return c == '{' || c == '[' ? SkipContainer(p, ref i, depth) : SkipScalar(p, ref i);
    }

    private static bool SkipScalar(ReadOnlySpan<byte> p, ref int i)
    {
        switch (p[i])
        {
            case (byte)'"':
                return ScanString(p, ref i, out _);
            case (byte)'t':
                return SkipLiteral(p, ref i, "true"u8);
            case (byte)'f':
                return SkipLiteral(p, ref i, "false"u8);
            case (byte)'n':
                return SkipLiteral(p, ref i, "null"u8);
            default:
                return SkipNumber(p, ref i);
        }
    }

    private static bool SkipLiteral(ReadOnlySpan<byte> p, ref int i, ReadOnlySpan<byte> literal)
    {
        if (!p[i..].StartsWith(literal))
        {
            return false;
        }

        i += literal.Length;
        return true;
    }

    /// <summary>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; the caller checks what follows it.</summary>
    private static bool SkipNumber(ReadOnlySpan<byte> p, ref int i)
    {
        var j = i;
        if (p[j] == '-')
        {
            j++;
        }

        if (j >= p.Length)
        {
            return false;
        }

        if (p[j] == '0')
        {
            j++;
        }
        else if (!SkipDigits(p, ref j))
        {
            return false;
        }

        if (j < p.Length && p[j] == '.')
        {
            j++;
            if (!SkipDigits(p, ref j))
            {
                return false;
            }
        }

        if (j < p.Length && (p[j] | 0x20) == 'e')
        {
            j++;
            if (j < p.Length && p[j] is (byte)'+' or (byte)'-')
            {
                j++;
            }

            if (!SkipDigits(p, ref j))
            {
                return false;
            }
        }

        i = j;
        return true;
    }

    /// <summary>One or more digits.</summary>
    private static bool SkipDigits(ReadOnlySpan<byte> p, ref int j)
    {
        var first = j;
        while ((uint)j < (uint)p.Length && p[j] - (uint)'0' <= 9)
        {
            j++;
        }

        return j > first;
    }

    /// <summary>
    /// An array or object at <paramref name="i"/> inside containers <paramref name="depth"/> deep, to just past
    /// its end, validated without recursion: one bit per level says whether that level is an object.
    /// </summary>
    private static bool SkipContainer(ReadOnlySpan<byte> p, ref int i, int depth)
    {
        var outer = depth;
        var objects = 0UL;
        bool isObject;
    Open:
        isObject = p[i] == '{';
        depth++;
        if (depth >= MaxDepth)
        {
            return false; // the reader says whether it is too deep
        }

        objects = isObject ? objects | (1UL << depth) : objects & ~(1UL << depth);
        i++;
        if (!SkipSpace(p, ref i))
        {
            return false;
        }

        if (p[i] == (isObject ? '}' : ']'))
        {
            i++;
            goto Closed;
        }

    Element:
        if (isObject)
        {
            if (!ScanString(p, ref i, out _) || !SkipColon(p, ref i))
            {
                return false;
            }
        }

        if (p[i] is (byte)'{' or (byte)'[')
        {
            goto Open;
        }

        if (!SkipScalar(p, ref i))
        {
            return false;
        }

    AfterValue:
        if (!SkipSpace(p, ref i))
        {
            return false;
        }

        if (p[i] == ',')
        {
            i++;
            if (!SkipSpace(p, ref i))
            {
                return false;
            }

            goto Element;
        }

        if (p[i] != (isObject ? '}' : ']'))
        {
            return false;
        }

        i++;
    Closed:
        depth--;
        if (depth == outer)
        {
            return true;
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
