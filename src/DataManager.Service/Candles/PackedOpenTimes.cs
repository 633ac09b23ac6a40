using System.Buffers.Text;

namespace DataManager.Candles;

/// <summary>
/// Parses open times packed by the server as comma-separated integers <c>2 × YYYYMMDDhhmmss + flag</c> (a DATETIME in
/// numeric context, doubled, plus a 0/1 flag): a million of them arrive as a hundred rows instead of a million. Pure:
/// bytes in, values out.
/// </summary>
public static class PackedOpenTimes
{
    /// <summary>Appends every packed value to <paramref name="values"/> as (UTC ticks × 2 + flag); throws <see cref="FormatException"/> on anything else.</summary>
    public static void Parse(ReadOnlySpan<byte> packed, List<long> values)
    {
        long lastDate = -1, lastDayTicks = 0;
        while (!packed.IsEmpty)
        {
            if (!Utf8Parser.TryParse(packed, out long value, out var consumed) || value < 0
                || (consumed < packed.Length && (packed[consumed] != (byte)',' || consumed == packed.Length - 1)))
            {
                throw new FormatException("a packed open time is not a whole number followed by ',' or the end");
            }

            packed = consumed < packed.Length ? packed[(consumed + 1)..] : [];
            var stamp = value >> 1;
            var date = stamp / 1_000_000;
            var time = stamp % 1_000_000;
            if (date != lastDate)
            {
                lastDayTicks = DayTicks(date);
                lastDate = date;
            }

            var (hours, minutes, seconds) = (time / 10_000, time / 100 % 100, time % 100);
            if (hours > 23 || minutes > 59 || seconds > 59)
            {
                throw new FormatException($"{stamp} is not a time of day");
            }

            var ticks = lastDayTicks + (((hours * 3600) + (minutes * 60) + seconds) * TimeSpan.TicksPerSecond);
            values.Add((ticks << 1) | (value & 1));
        }
    }

    /// <summary>The open time of a parsed value.</summary>
    public static DateTime OpenTime(long value) => new(value >> 1, DateTimeKind.Utc);

    /// <summary>The flag of a parsed value.</summary>
    public static bool Flag(long value) => (value & 1) != 0;

    /// <summary>A DATETIME's date (years 1000–9999): a value cut short by a server limit has lost digits and fails here.</summary>
    private static long DayTicks(long date)
    {
        var (year, month, day) = ((int)(date / 10_000), (int)(date / 100 % 100), (int)(date % 100));
        if (year is < 1000 or > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month))
        {
            throw new FormatException($"{date} is not a date");
        }

        return new DateTime(year, month, day, 0, 0, 0, DateTimeKind.Utc).Ticks;
    }
}
