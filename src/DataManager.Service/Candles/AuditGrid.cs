namespace DataManager.Candles;

/// <summary>
/// The audited grid of a window <c>[From, To)</c>: every open time aligned to the interval (epoch-aligned,
/// so 1d is on 00:00 UTC) of a candle that had closed by <c>To</c>.
/// </summary>
public readonly record struct AuditGrid(DateTime First, DateTime Last, TimeSpan Interval, int Size)
{
    public static AuditGrid For(DateTime from, DateTime to, TimeSpan interval)
    {
        var ticks = interval.Ticks;
        var first = new DateTime(((from.Ticks + ticks - 1) / ticks) * ticks, DateTimeKind.Utc);
        var last = new DateTime(((to.Ticks - ticks) / ticks) * ticks, DateTimeKind.Utc);
        var size = last < first ? 0 : (int)((last - first).Ticks / ticks) + 1;
        return new AuditGrid(first, size == 0 ? first - interval : last, interval, size);
    }

    /// <summary>The open times the audit reads: the grid's span, so a still-open candle after it is ignored.</summary>
    public DateTime ReadFrom => First;

    public DateTime ReadTo => Last + Interval;

    public bool IsAligned(DateTime openTime) => openTime.Ticks % Interval.Ticks == 0;
}
