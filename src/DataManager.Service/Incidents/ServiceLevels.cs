using DataManager.Auditing;

namespace DataManager.Incidents;

/// <summary>Good and total events of a series' two SLIs between two consecutive audits of it.</summary>
public readonly record struct SliEvents(long CandlesTotal, long CandlesGood, double MinutesTotal, double MinutesGood);

/// <summary>
/// The SLIs, as values from consecutive audits of one series:
/// <list type="bullet">
/// <item><b>completeness</b> — each expected candle is one event when its deadline (close + two intervals)
/// passes; good if the first audit after the deadline has it (it is in no gap). Candles Binance confirmed
/// empty are not events.</item>
/// <item><b>freshness</b> — each minute is one event; good if the audit closing it found the newest closed
/// candle at most two intervals old (freshness 100).</item>
/// </list>
/// The audit's cadence is the resolution: a candle that arrives late but before the next audit counts as on time.
/// </summary>
public static class ServiceLevels
{
    public static SliEvents Between(DateTimeOffset? previousAuditAt, AuditRecord audit, TimeSpan interval)
    {
        if (previousAuditAt is not { } previous || audit.Error is not null || audit.Health is null || audit.AuditedAt <= previous)
        {
            return default;
        }

        // Open times t whose deadline t + 3·I lies in (previous, audit], and inside the audited window.
        var ticks = interval.Ticks;
        var lowest = Math.Max((previous - (3 * interval)).UtcTicks + 1, audit.WindowFrom.UtcTicks);
        var first = (lowest + ticks - 1) / ticks * ticks;
        var last = (audit.AuditedAt - (3 * interval)).UtcTicks / ticks * ticks;
        long total = 0, good = 0;
        for (var t = first; t <= last; t += ticks)
        {
            var open = new DateTimeOffset(t, TimeSpan.Zero);
            var gap = audit.Gaps.FirstOrDefault(g => g.From <= open && open <= g.To);
            if (gap is { SourceEmpty: true })
            {
                continue;
            }

            total++;
            good += gap is null ? 1 : 0;
        }

        var minutes = (audit.AuditedAt - previous).TotalMinutes;
        return new SliEvents(total, good, minutes, audit.Health.Freshness >= 100 ? minutes : 0);
    }
}
