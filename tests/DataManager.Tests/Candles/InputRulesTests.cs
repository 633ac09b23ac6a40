using DataManager.Candles;

namespace DataManager.Tests.Candles;

/// <summary>The rules the API and the CLI both apply to a caller's symbol, timeframe and time.</summary>
public sealed class InputRulesTests
{
    [Theory]
    [InlineData("BTCUSDT", "BTCUSDT")]
    [InlineData("btcusdt", "BTCUSDT")]
    [InlineData("1000PEPEUSDT", "1000PEPEUSDT")]
    public void Symbols_in_either_case_are_upper_cased(string input, string expected)
    {
        Assert.True(SymbolName.TryNormalize(input, out var symbol));
        Assert.Equal(expected, symbol);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("B")]
    [InlineData("BTCUSDT\n")]
    [InlineData("BTCUSDT ")]
    [InlineData(" BTCUSDT")]
    [InlineData("BTC-USDT")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTU")]
    public void Symbols_with_anything_else_are_refused(string? input)
    {
        Assert.False(SymbolName.TryNormalize(input, out var symbol));
        Assert.Null(symbol);
        Assert.False(SymbolName.IsValid(input));
    }

    [Theory]
    [InlineData("1h")]
    [InlineData("1m")]
    [InlineData("1d")]
    public void Timeframes_are_taken_by_their_exact_name(string name) =>
        Assert.True(Timeframe.TryParseExact(name, out _));

    [Theory]
    [InlineData("1h ")]
    [InlineData(" 1h")]
    [InlineData("1H")]
    [InlineData("1M")]
    [InlineData("7m")]
    [InlineData(null)]
    public void Other_timeframe_names_are_refused(string? name) =>
        Assert.False(Timeframe.TryParseExact(name, out _));

    [Theory]
    [InlineData("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z")]
    [InlineData("2024-01-01T00:00Z", "2024-01-01T00:00:00Z")]
    [InlineData("2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z")]
    [InlineData("2024-01-01T00:00:00.123Z", "2024-01-01T00:00:00.123Z")]
    public void Iso_times_with_a_zone_are_read_as_utc(string text, string expected)
    {
        Assert.True(IsoTime.TryParse(text, out var time));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), time);
        Assert.Equal(TimeSpan.Zero, time.Offset);
    }

    [Theory]
    [InlineData("01/02/2024")]
    [InlineData("Jan 5 2024")]
    [InlineData("2024-01-01 00:00:00")]
    [InlineData("2024-01-01T00:00:00")]
    [InlineData("2024-01-01")]
    [InlineData("2024-01-01T00:00:00Z\n")]
    [InlineData("2024-13-01T00:00:00Z")]
    [InlineData("")]
    [InlineData(null)]
    public void Other_time_forms_are_refused(string? text) =>
        Assert.False(IsoTime.TryParse(text, out _));
}
