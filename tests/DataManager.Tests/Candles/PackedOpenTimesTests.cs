using System.Text;
using DataManager.Candles;

namespace DataManager.Tests.Candles;

public sealed class PackedOpenTimesTests
{
    private static List<long> Parse(string packed)
    {
        var values = new List<long>();
        PackedOpenTimes.Parse(Encoding.ASCII.GetBytes(packed), values);
        return values;
    }

    [Fact]
    public void Every_value_is_the_datetime_it_spells_and_its_flag()
    {
        var random = new Random(16);
        var times = new List<(DateTime Time, bool Flag)>
        {
            (new DateTime(1000, 1, 1, 0, 0, 0, DateTimeKind.Utc), false),
            (new DateTime(9999, 12, 31, 23, 59, 59, DateTimeKind.Utc), true),
            (new DateTime(2024, 2, 29, 12, 0, 30, DateTimeKind.Utc), false),
        };
        for (var i = 0; i < 10_000; i++)
        {
            times.Add((new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(random.NextInt64(0, 40L * 365 * 86_400)), random.Next(2) == 1));
        }

        // As MariaDB prints `timestamp * 2 + flag`: the DATETIME as YYYYMMDDhhmmss, doubled.
        var packed = string.Join(',', times.Select(t => ((long.Parse(t.Time.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture) * 2) + (t.Flag ? 1 : 0)).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var values = Parse(packed);

        Assert.Equal(times, values.Select(v => (PackedOpenTimes.OpenTime(v), PackedOpenTimes.Flag(v))).ToList());
        Assert.All(values, v => Assert.Equal(DateTimeKind.Utc, PackedOpenTimes.OpenTime(v).Kind));
    }

    [Fact]
    public void Nothing_packed_is_no_values() => Assert.Empty(Parse(""));

    [Theory]
    [InlineData("40480202000000,")] // a separator with nothing after it
    [InlineData("40480202000000;40480202000200")]
    [InlineData("4048020200000")] // one digit cut off by a server limit: no longer a date of years 1000–9999
    [InlineData("404802020")]
    [InlineData("40480460000000")] // 2024-02-30
    [InlineData("40482602000000")] // month 13
    [InlineData("40480262480000")] // hour 24
    [InlineData("-40480202000000")]
    [InlineData("abc")]
    public void Anything_else_is_a_format_error(string packed) => Assert.Throws<FormatException>(() => Parse(packed));
}
