using System.Buffers.Text;

namespace DataManager.Candles;

/// <summary>
/// Parses candles packed as <c>time,open,high,low,close,volume</c> rows joined by <c>;</c> (the open time as the
/// server prints a DATETIME cast to an integer, <c>yyyyMMddHHmmss</c> in UTC; prices as it prints DECIMAL). Each price becomes the decimal GetDecimal would return, then a
/// double, so the analytics see the same numbers as from a row-per-candle read. Pure: bytes in, rows out.
/// </summary>
public static class PackedOhlcv
{
    /// <summary>Rows in the order they are packed; throws <see cref="FormatException"/> on anything else.</summary>
    public static void Parse(ReadOnlySpan<byte> packed, IOhlcvSink sink)
    {
        while (!packed.IsEmpty)
        {
            var time = ParseTime(ref packed);
            var open = ParsePrice(ref packed, (byte)',');
            var high = ParsePrice(ref packed, (byte)',');
            var low = ParsePrice(ref packed, (byte)',');
            var close = ParsePrice(ref packed, (byte)',');
            var volume = ParsePrice(ref packed, (byte)';');
            sink.Add(time, open, high, low, close, volume);
        }
    }

    /// <summary>
    /// <c>yyyyMMddHHmmss</c>, 14 digits: cheaper for the server to print than seconds since the epoch (a
    /// TIMESTAMPDIFF per row cost MariaDB about 10 % of the read).
    /// </summary>
    private static DateTime ParseTime(ref ReadOnlySpan<byte> packed)
    {
        const int Digits = 14;
        if (packed.Length <= Digits || packed[Digits] != ',' || !Utf8Parser.TryParse(packed[..Digits], out ulong value, out var consumed) || consumed != Digits)
        {
            throw new FormatException("a packed candle's open time is not yyyyMMddHHmmss followed by ','");
        }

        packed = packed[(Digits + 1)..];
        var (date, clock) = ((int)(value / 1_000_000), (int)(value % 1_000_000));
        try
        {
            return new DateTime(date / 10_000, date / 100 % 100, date % 100, clock / 10_000, clock / 100 % 100, clock % 100, DateTimeKind.Utc);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new FormatException($"a packed candle's open time {value} is not a valid time");
        }
    }

    /// <summary>
    /// Up to 19 digits (any DECIMAL(20,8) below 10^11) are read here into the decimal's integer and scale, exactly
    /// what a decimal parser builds from the same text; longer numbers go through <see cref="Utf8Parser"/>.
    /// </summary>
    private static double ParsePrice(ref ReadOnlySpan<byte> packed, byte separator)
    {
        var end = packed.IndexOf(separator);
        if (end < 0)
        {
            if (separator != (byte)';')
            {
                throw new FormatException("a packed candle has fewer than six fields");
            }

            end = packed.Length;
        }

        var text = packed[..end];
        packed = end == packed.Length ? [] : packed[(end + 1)..];
        var negative = !text.IsEmpty && text[0] == (byte)'-';
        var digits = negative ? text[1..] : text;
        ulong integer = 0;
        int count = 0, scale = -1;
        foreach (var c in digits)
        {
            if (c == (byte)'.' && scale < 0)
            {
                scale = 0;
                continue;
            }

            var digit = (uint)(c - '0');
            if (digit > 9)
            {
                throw new FormatException($"'{System.Text.Encoding.ASCII.GetString(text)}' is not a decimal number");
            }

            integer = (integer * 10) + digit;
            count++;
            scale += scale >= 0 ? 1 : 0;
        }

        if (count == 0 || scale == 0)
        {
            throw new FormatException($"'{System.Text.Encoding.ASCII.GetString(text)}' is not a decimal number");
        }

        if (count > 19)
        {
            if (!Utf8Parser.TryParse(text, out decimal wide, out var consumed) || consumed != text.Length)
            {
                throw new FormatException($"'{System.Text.Encoding.ASCII.GetString(text)}' is not a decimal number");
            }

            return (double)wide;
        }

        return (double)new decimal((int)(uint)integer, (int)(uint)(integer >> 32), 0, negative, (byte)Math.Max(scale, 0));
    }
}

/// <summary>Receives parsed candles one at a time.</summary>
public interface IOhlcvSink
{
    void Add(DateTime openTime, double open, double high, double low, double close, double volume);
}
