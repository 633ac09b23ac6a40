using System.Globalization;
using System.Text;
using DataManager.Candles;

namespace DataManager.Tests.Candles;

public sealed class PackedOhlcvTests
{
    [Fact]
    public void Every_price_is_the_double_of_the_decimal_the_text_spells()
    {
        var random = new Random(16);
        var texts = new List<string> { "0.00000000", "0.00000001", "99999999999.99999999", "999999999999.99999999", "-999999999999.99999999", "-0.50000000", "7", "100.1" };
        for (var i = 0; i < 20_000; i++)
        {
            // Up to 20 digits at scale 8, as DECIMAL(20,8) prints them: both the 19-digit path and the wide one.
            var integer = (long)(random.NextDouble() * Math.Pow(10, random.Next(0, 13)));
            var fraction = random.NextInt64(0, 100_000_000);
            texts.Add(string.Create(CultureInfo.InvariantCulture, $"{integer}.{fraction:D8}"));
        }

        var packed = string.Join(';', texts.Select((t, i) => $"{TimeText(i)},{t},{t},{t},{t},{t}"));
        var sink = new Sink();
        PackedOhlcv.Parse(Encoding.ASCII.GetBytes(packed), sink);

        Assert.Equal(texts.Count, sink.Rows.Count);
        for (var i = 0; i < texts.Count; i++)
        {
            var expected = (double)decimal.Parse(texts[i], CultureInfo.InvariantCulture);
            var row = sink.Rows[i];
            Assert.Equal(TimeOf(i), row.Time);
            Assert.Equal(DateTimeKind.Utc, row.Time.Kind);
            Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(row.Close), $"{texts[i]}: {row.Close:R} != {expected:R}");
            Assert.Equal((expected, expected, expected, expected), (row.Open, row.High, row.Low, row.Volume));
        }
    }

    /// <summary>Row i's open time: a minute apart from 2023-11-14, with a row in 1000, 1999, a leap day and 9999 among them.</summary>
    private static DateTime TimeOf(int i) => i switch
    {
        0 => new DateTime(1000, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        1 => new DateTime(1999, 12, 31, 23, 59, 59, DateTimeKind.Utc),
        2 => new DateTime(2024, 2, 29, 12, 34, 56, DateTimeKind.Utc),
        3 => new DateTime(9999, 12, 31, 23, 59, 59, DateTimeKind.Utc),
        _ => DateTime.UnixEpoch.AddSeconds(1_700_000_000 + (i * 60)),
    };

    private static string TimeText(int i) => TimeOf(i).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

    [Fact]
    public void Nothing_packed_is_no_rows()
    {
        var sink = new Sink();
        PackedOhlcv.Parse([], sink);
        Assert.Empty(sink.Rows);
    }

    [Theory]
    [InlineData("20231114221320,1,2,3,4")]
    [InlineData("20231114221320,1,2,3,4,5;20231114221420")]
    [InlineData("x,1,2,3,4,5")]
    [InlineData("1700000000,1,2,3,4,5")]
    [InlineData("202311142213200,1,2,3,4,5")]
    [InlineData("20231314221320,1,2,3,4,5")]
    [InlineData("20230229000000,1,2,3,4,5")]
    [InlineData("2023111422132x,1,2,3,4,5")]
    [InlineData("20231114221320,1,2,3,4,5e3")]
    [InlineData("20231114221320,1,2,,4,5")]
    [InlineData("20231114221320,1.2.3,2,3,4,5")]
    [InlineData("20231114221320,12.,2,3,4,5")]
    public void A_malformed_pack_is_rejected_not_guessed(string packed) =>
        Assert.Throws<FormatException>(() => PackedOhlcv.Parse(Encoding.ASCII.GetBytes(packed), new Sink()));

    private sealed class Sink : IOhlcvSink
    {
        public List<(DateTime Time, double Open, double High, double Low, double Close, double Volume)> Rows { get; } = [];

        public void Add(DateTime openTime, double open, double high, double low, double close, double volume) => Rows.Add((openTime, open, high, low, close, volume));
    }
}
