using System.Buffers;
using System.Text;
using DataManager.Cli;
using DataManager.Tracking;
using Prometheus;

namespace DataManager.Tests.Tracking;

public sealed class FeedEnvelopeTests
{
    private const int MaxBytes = 256 * 1024;

    private static (InvalidReason Invalid, FeedEventType Type, string Symbol, long? EventTime) Parse(string json)
    {
        var parsed = FeedEnvelope.Parse(Encoding.UTF8.GetBytes(json), MaxBytes);
        return (parsed.Invalid, parsed.EventType, Encoding.ASCII.GetString(parsed.Symbol).ToUpperInvariant(), parsed.EventTimeMs);
    }

    public static TheoryData<string, FeedEventType, string> Corpus => new()
    {
        { """{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1732300000000,"a":5933014,"s":"BTCUSDT","p":"97000.10","q":"0.025","f":100,"l":105,"T":1732300000000,"m":true},"timestamp":"2026-11-22T10:00:00.123Z","message_id":"m1","source":"binance-futures","version":"1"}""", FeedEventType.AggTrade, "BTCUSDT" },
        { """{"stream":"ethusdt@trade","data":{"e":"trade","E":1732300000001,"T":1732300000001,"s":"ETHUSDT","t":1,"p":"3400.5","q":"1.2","X":"MARKET","m":false}}""", FeedEventType.Trade, "ETHUSDT" },
        { """{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","E":1732300000002,"s":"BTCUSDT","p":"-94.99","P":"-0.096","c":"97000.1","v":"1234.5"}}""", FeedEventType.Ticker24h, "BTCUSDT" },
        { """{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1732300000003,"T":1732300000003,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["97000.0","1.5"]],"a":[["97000.2","0.1"]]}}""", FeedEventType.DepthUpdate, "BTCUSDT" },
        { """{"stream":"solusdt@depth20@100ms","data":{"lastUpdateId":160,"E":1732300000004,"T":1732300000004,"bids":[["180.10","12"]],"asks":[["180.20","3"]]}}""", FeedEventType.PartialDepth, "SOLUSDT" },
        { """{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1732300000005,"s":"BTCUSDT","p":"97001.2","i":"97000.9","r":"0.0001","T":1732329600000}}""", FeedEventType.MarkPriceUpdate, "BTCUSDT" },
        { """{"stream":"bnbusdt@kline_1m","data":{"e":"kline","E":1732300000006,"s":"BNBUSDT","k":{"t":1732299960000,"T":1732300019999,"s":"BNBUSDT","i":"1m","o":"600.1","c":"600.2","x":false}}}""", FeedEventType.Kline, "BNBUSDT" },
        { """{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":400900217,"E":1732300000007,"T":1732300000007,"s":"BTCUSDT","b":"97000.1","B":"31.2","a":"97000.2","A":"40.6"}}""", FeedEventType.BookTicker, "BTCUSDT" },
        { """{"stream":"xrpusdt@forceOrder","data":{"e":"forceOrder","E":1732300000008,"o":{"s":"XRPUSDT","S":"SELL","o":"LIMIT","q":"100","p":"0.51"}}}""", FeedEventType.ForceOrder, "XRPUSDT" },
        { """{"data":{"s":"BTCUSDT","E":1732300000009,"e":"aggTrade"},"stream":"btcusdt@aggTrade"}""", FeedEventType.AggTrade, "BTCUSDT" },
        { """{"stream":"btcusdt@newThing","data":{"e":"somethingNew","E":1732300000010,"s":"BTCUSDT"}}""", FeedEventType.Unknown, "BTCUSDT" },
        { """{"stream":"adausdt@depth5","data":{"lastUpdateId":1,"bids":[],"asks":[]}}""", FeedEventType.PartialDepth, "ADAUSDT" },
        { """  {"stream":"ltcusdt@aggTrade","data":{"e":"aggTrade","s":"LTCUSDT"}}  """, FeedEventType.AggTrade, "LTCUSDT" },
        { """{"stream":"btcusdt@aggTrade","data":{"e":{"s":"FAKEUSDT","e":"trade"},"E":{"x":1},"s":"BTCUSDT"}}""", FeedEventType.AggTrade, "BTCUSDT" },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Every_real_shape_is_read(string json, FeedEventType type, string symbol)
    {
        var parsed = Parse(json);
        Assert.Equal(InvalidReason.None, parsed.Invalid);
        Assert.Equal(type, parsed.Type);
        Assert.Equal(symbol, parsed.Symbol);
    }

    [Fact]
    public void The_event_time_comes_from_data_E()
    {
        Assert.Equal(1732300000000, Parse("""{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1732300000000,"s":"BTCUSDT"}}""").EventTime);
        Assert.Null(Parse("""{"stream":"btcusdt@depth20","data":{"lastUpdateId":1}}""").EventTime);
    }

    public static TheoryData<string, InvalidReason> Malformed => new()
    {
        { "", InvalidReason.Empty },
        { "not json", InvalidReason.NotJson },
        { """{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTC""", InvalidReason.Truncated },
        { """{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT"}""", InvalidReason.Truncated },
        { """[1,2,3]""", InvalidReason.NotObject },
        { """{"stream":"btcusdt@aggTrade"}""", InvalidReason.NoData },
        { """{"stream":"btcusdt@aggTrade","data":"text"}""", InvalidReason.NoData },
        { """{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":42}}""", InvalidReason.BadSymbol },
        { """{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTC/USDT"}}""", InvalidReason.BadSymbol },
        { """{"stream":"nosymbolstream","data":{"e":"aggTrade"}}""", InvalidReason.NoSymbol },
        { """{"data":{"e":"aggTrade"}}""", InvalidReason.NoSymbol },
        { """{"stream":"btcusdt@aggTrade","data":{"s":"BTCUSDT"}} {"again":1}""", InvalidReason.NotJson },
        { """{"stream":"btcusdt@aggTrade","data":{"s":"BTCUSDT",}}""", InvalidReason.NotJson },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_input_gets_its_reason(string json, InvalidReason reason) => Assert.Equal(reason, Parse(json).Invalid);

    [Fact]
    public void Deep_large_and_random_payloads_are_rejected_without_throwing()
    {
        var deep = "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"x\":" + new string('[', 200) + new string(']', 200) + ",\"s\":\"BTCUSDT\"}}";
        Assert.Equal(InvalidReason.TooDeep, Parse(deep).Invalid);

        var large = new byte[1024 * 1024];
        Assert.Equal(InvalidReason.TooLarge, FeedEnvelope.Parse(large, MaxBytes).Invalid);

        var random = new Random(3);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(1, 300)];
            random.NextBytes(bytes);
            Assert.NotEqual(InvalidReason.None, FeedEnvelope.Parse(bytes, MaxBytes).Invalid);
        }
    }

    private static readonly string[] FeedKinds = ["aggTrade", "trade", "depthUpdate", "depth20", "markPriceUpdate", "kline", "bookTicker", "24hrTicker", "forceOrder"];

    private static byte[] Envelope(string kind)
    {
        var buffer = new ArrayBufferWriter<byte>();
        FeedCommand.WriteEnvelope(buffer, kind, "BTCUSDT", 42, 1732300000000);
        return buffer.WrittenMemory.ToArray();
    }

    private static IEnumerable<byte[]> RealShapes() =>
        FeedKinds.Select(Envelope).Concat(Corpus.Select(row => Encoding.UTF8.GetBytes(row.Data.Item1)));

    [Fact]
    public void Every_real_shape_takes_the_fast_scan()
    {
        foreach (var payload in RealShapes())
        {
            Assert.True(FeedEnvelope.TryScan(payload, out _), Encoding.UTF8.GetString(payload));
        }
    }

    /// <summary>Malformed content inside the values the scan skips unread (depth levels, kline's k, nested objects).</summary>
    public static TheoryData<string, InvalidReason> MalformedNested => new()
    {
        { "\"b\":[[\"97000.0\",\"1.5\"],]", InvalidReason.NotJson },
        { "\"b\":[[\"97000.0\" \"1.5\"]]", InvalidReason.NotJson },
        { "\"b\":[[\"97000.0\",\"1.5\"]", InvalidReason.NotJson },
        { "\"b\":[[\"97000.0\",\"1.5\"]]]", InvalidReason.NotJson },
        { "\"b\":[[,\"1.5\"]]", InvalidReason.NotJson },
        { "\"b\":[[\"97000.0\",]]", InvalidReason.NotJson },
        { "\"b\":[[\"97000.0\":\"1.5\"]]", InvalidReason.NotJson },
        { "\"b\":[[\"97000.0\",\"1.5\"}]", InvalidReason.NotJson },
        { "\"b\":[[01,2]]", InvalidReason.NotJson },
        { "\"b\":[[1.,2]]", InvalidReason.NotJson },
        { "\"b\":[[.5,2]]", InvalidReason.NotJson },
        { "\"b\":[[-,2]]", InvalidReason.NotJson },
        { "\"b\":[[1e,2]]", InvalidReason.NotJson },
        { "\"b\":[[1e+,2]]", InvalidReason.NotJson },
        { "\"b\":[[+1,2]]", InvalidReason.NotJson },
        { "\"b\":[[0x10,2]]", InvalidReason.NotJson },
        { "\"b\":[[1 2]]", InvalidReason.NotJson },
        { "\"b\":[[NaN,Infinity]]", InvalidReason.NotJson },
        { "\"b\":[[tru,1]]", InvalidReason.NotJson },
        { "\"b\":[[truex,1]]", InvalidReason.NotJson },
        { "\"b\":[[nul]]", InvalidReason.NotJson },
        { "\"b\":[['97000.0']]", InvalidReason.NotJson },
        { "\"b\":[[\"97\\q\"]]", InvalidReason.NotJson },
        { "\"b\":[[\"97\\u12G4\"]]", InvalidReason.NotJson },
        { "\"b\":[[\"97\u0001\"]]", InvalidReason.NotJson },
        { "\"b\":[[\"97\n\"]]", InvalidReason.NotJson },
        { "\"b\":[[/*c*/1]]", InvalidReason.NotJson },
        { "\"k\":{\"t\":1,}", InvalidReason.NotJson },
        { "\"k\":{\"t\" 1}", InvalidReason.NotJson },
        { "\"k\":{t:1}", InvalidReason.NotJson },
        { "\"k\":{\"t\":}", InvalidReason.NotJson },
        { "\"k\":{\"t\":1]", InvalidReason.NotJson },
        { "\"k\":{,}", InvalidReason.NotJson },
        { "\"k\":{\"t\":1 \"i\":2}", InvalidReason.NotJson },
        { "\"k\":{\"o\":{\"p\":[1,{\"q\":[true,false,null,]}]}}", InvalidReason.NotJson },
        { "\"k\":[" + new string('[', 40) + new string(']', 40) + "]", InvalidReason.TooDeep },
        { "\"k\":{\"a\":" + string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 41), InvalidReason.TooDeep },
    };

    [Theory]
    [MemberData(nameof(MalformedNested))]
    public void Malformed_nested_content_is_rejected_with_its_reason(string value, InvalidReason reason)
    {
        var payload = Encoding.UTF8.GetBytes("""{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT",""" + value + ""","a":[["1","2"]]},"version":"1"}""");
        Assert.False(FeedEnvelope.TryScan(payload, out _));
        Assert.Equal(reason, FeedEnvelope.Parse(payload, MaxBytes).Invalid);
        Assert.Equal(reason, FeedEnvelope.ParseWithReader(payload).Invalid);
    }

    [Fact]
    public void Well_formed_nested_content_is_accepted_by_both_paths()
    {
        foreach (var value in new[]
        {
            "\"b\":[]", "\"b\":[[]]", "\"k\":{}", "\"b\":[ [ \"1\" , \"2\" ] , [ ] ]",
            "\"k\":{\"a\":[1,-0,0.5,1e3,1E-3,-1.5e+10],\"b\":{\"c\":null},\"d\":true,\"e\":false}",
            "\"k\":\t{\r\n\"a\" :\n[ 1 ]\n}", "\"b\":[" + new string('[', 25) + new string(']', 25) + "]",
        })
        {
            var payload = Encoding.UTF8.GetBytes("""{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT",""" + value + "}}");
            Assert.True(FeedEnvelope.TryScan(payload, out _), value);
            Assert.Equal(Describe(FeedEnvelope.ParseWithReader(payload)), Describe(FeedEnvelope.Parse(payload, MaxBytes)));
        }
    }

    /// <summary>
    /// The scan must never accept what the reader rejects, nor read a field differently: every real shape,
    /// cut at every length, with every byte dropped, and with every byte replaced by (or preceded by) each byte
    /// that matters to JSON, parses to the same result both ways.
    /// </summary>
    [Fact]
    public void The_scan_and_the_reader_agree_on_every_mutation_of_every_real_shape()
    {
        byte[] bytes = [.. "{}[],:\"\\ \t\n0123456789-+.eEtrufalsn/\u0001\u007f"u8, 0x80, 0xC3, 0xFF];
        var compared = 0;
        foreach (var payload in RealShapes())
        {
            for (var at = 0; at <= payload.Length; at++)
            {
                Compare(payload.AsSpan(0, at));
                if (at == payload.Length)
                {
                    break;
                }

                Compare([.. payload.AsSpan(0, at), .. payload.AsSpan(at + 1)]);
                foreach (var b in bytes)
                {
                    var changed = payload.ToArray();
                    changed[at] = b;
                    Compare(changed);
                    Compare([.. payload.AsSpan(0, at), b, .. payload.AsSpan(at)]);
                }
            }
        }

        Assert.True(compared > 100_000, $"{compared} payloads compared");

        void Compare(ReadOnlySpan<byte> payload)
        {
            if (payload.IsEmpty)
            {
                return;
            }

            compared++;
            var expected = Describe(FeedEnvelope.ParseWithReader(payload));
            var actual = Describe(FeedEnvelope.Parse(payload, MaxBytes));
            Assert.True(expected == actual, $"{Encoding.Latin1.GetString(payload)}: reader {expected}, scan {actual}");
        }
    }

    private static string Describe(ParsedEnvelope parsed) =>
        $"{parsed.Invalid} {parsed.EventType} {Encoding.Latin1.GetString(parsed.Symbol)} {parsed.EventTimeMs}";

    [Fact]
    public void Parsing_a_valid_message_allocates_nothing()
    {
        var buffer = new ArrayBufferWriter<byte>();
        FeedCommand.WriteEnvelope(buffer, "aggTrade", "BTCUSDT", 1, 1732300000000);
        var payload = buffer.WrittenMemory.ToArray();
        var stats = new TrackerStats(["BTCUSDT"], trackAllSymbols: false, new TrackerMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())));
        for (var i = 0; i < 5_000; i++)
        {
            Count(stats, payload); // warm up (JIT, tiering)
        }

        Thread.Sleep(100); // let background tier-1 compilation land
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100_000; i++)
        {
            Count(stats, payload);
        }

        // Under a byte per message: any allocation per message would be at least 24 bytes each (2.4 MB here);
        // the runtime may still allocate a few bytes once (tiering, lazy initialisation) on this thread.
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 100_000, $"{allocated} bytes for 100,000 messages");
        Assert.Equal(105_000, stats.TotalReceived);
    }

    private static void Count(TrackerStats stats, byte[] payload)
    {
        var parsed = FeedEnvelope.Parse(payload, MaxBytes);
        stats.Received1(parsed.EventType, parsed.Symbol, payload.Length, 1732300000100, parsed.EventTimeMs);
    }

    [Fact]
    public void Symbols_outside_the_list_are_other_unless_every_symbol_is_tracked()
    {
        var metrics = new TrackerMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry()));
        var bounded = new TrackerStats(["BTCUSDT"], trackAllSymbols: false, metrics);
        bounded.Received1(FeedEventType.Trade, "dogeusdt"u8, 10, 1, null);
        bounded.Received1(FeedEventType.Trade, "btcusdt"u8, 10, 1, null);
        bounded.Received1(FeedEventType.Trade, "btcusdt"u8, 10, 1, null);
        Assert.Equal(["BTCUSDT", "other"], bounded.BySymbol().Select(s => s.Symbol).Order().ToArray());
        bounded.Export(); // what a scrape does: the labels are bounded the same way, and a second export adds nothing twice
        bounded.Export();
        Assert.Equal((2.0, 1.0, 30.0), (metrics.Received.WithLabels("trade", "BTCUSDT").Value, metrics.Received.WithLabels("trade", "other").Value, metrics.Bytes.Value));
        Assert.DoesNotContain(metrics.Received.GetAllLabelValues(), labels => labels[1] == "DOGEUSDT");

        var all = new TrackerStats(["BTCUSDT"], trackAllSymbols: true, new TrackerMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())));
        for (var i = 0; i < TrackerStats.MaxSymbols + 50; i++)
        {
            all.Received1(FeedEventType.Trade, Encoding.ASCII.GetBytes($"SYM{i}USDT"), 10, 1, null);
        }

        var symbols = all.BySymbol();
        Assert.Equal(TrackerStats.MaxSymbols - 1, symbols.Count(s => s.Symbol != TrackerStats.Other)); // BTCUSDT holds one of the slots
        Assert.True(symbols.Single(s => s.Symbol == TrackerStats.Other).Count >= 50);
    }
}
