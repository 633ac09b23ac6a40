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

        try
        {
            return ParseJson(payload);
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

    private static ParsedEnvelope ParseJson(ReadOnlySpan<byte> payload)
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

        int streamStart = -1, streamLength = 0, symbolStart = -1, symbolLength = 0, typeStart = -1, typeLength = 0;
        long? eventTime = null;
        var sawData = false;
        var badSymbol = false;
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

                sawData = true;
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
                            (typeStart, typeLength) = (start, length);
                            break;
                        case 'E' when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var ms):
                            eventTime = ms;
                            break;
                        case 's':
                            // Present but not a plain string: invalid, whatever the stream says.
                            (symbolStart, symbolLength, badSymbol) = (start, length, start < 0);
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
                    (streamStart, streamLength) = (start, length);
                }
            }
        }

        // One complete object, and nothing after it but white space.
        var rest = payload[(int)reader.BytesConsumed..];
        if (rest.Trim(" \t\r\n"u8).Length > 0)
        {
            return new ParsedEnvelope(InvalidReason.NotJson);
        }

        if (!sawData)
        {
            return new ParsedEnvelope(InvalidReason.NoData);
        }

        if (badSymbol)
        {
            return new ParsedEnvelope(InvalidReason.BadSymbol);
        }

        var stream = streamStart >= 0 ? payload.Slice(streamStart, streamLength) : default;
        var symbol = symbolStart >= 0 ? payload.Slice(symbolStart, symbolLength) : StreamPrefix(stream);
        if (symbol.IsEmpty)
        {
            return new ParsedEnvelope(InvalidReason.NoSymbol);
        }

        if (!IsSymbol(symbol))
        {
            return new ParsedEnvelope(InvalidReason.BadSymbol);
        }

        var type = typeStart >= 0 ? TypeFromEvent(payload.Slice(typeStart, typeLength)) : TypeFromStream(stream);
        return new ParsedEnvelope(type, symbol, eventTime);
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
