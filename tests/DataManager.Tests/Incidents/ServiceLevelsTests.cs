using DataManager.Auditing;
using DataManager.Incidents;

namespace DataManager.Tests.Incidents;

public sealed class ServiceLevelsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan M1 = TimeSpan.FromMinutes(1);

    [Fact]
    public void The_first_audit_of_a_series_counts_nothing()
    {
        Assert.Equal(default, ServiceLevels.Between(null, IncidentRulesTests.Audit(T0), M1));
    }

    [Fact]
    public void Candles_whose_deadline_passed_since_the_previous_audit_are_events_and_those_in_a_gap_are_bad()
    {
        // Deadlines (open + 3 min) in (11:55, 12:00]: opens 11:52:01..11:57 → 11:53..11:57, five candles; 11:55-11:56 missing.
        var audit = IncidentRulesTests.Audit(T0, gaps: [new GapFinding(T0.AddMinutes(-5), T0.AddMinutes(-4), 2)]);
        var events = ServiceLevels.Between(T0.AddMinutes(-5), audit, M1);
        Assert.Equal((5L, 3L), (events.CandlesTotal, events.CandlesGood));
        Assert.Equal((5.0, 5.0), (events.MinutesTotal, events.MinutesGood));
    }

    [Fact]
    public void Candles_binance_confirmed_empty_are_not_events()
    {
        var audit = IncidentRulesTests.Audit(T0, gaps: [new GapFinding(T0.AddMinutes(-5), T0.AddMinutes(-4), 2, SourceEmpty: true)]);
        var events = ServiceLevels.Between(T0.AddMinutes(-5), audit, M1);
        Assert.Equal((3L, 3L), (events.CandlesTotal, events.CandlesGood));
    }

    [Fact]
    public void Minutes_of_a_stale_series_are_bad_and_a_failed_audit_counts_nothing()
    {
        var stale = ServiceLevels.Between(T0.AddMinutes(-5), IncidentRulesTests.Audit(T0, freshness: 40), M1);
        Assert.Equal((5.0, 0.0), (stale.MinutesTotal, stale.MinutesGood));
        Assert.Equal(default, ServiceLevels.Between(T0.AddMinutes(-5), IncidentRulesTests.Audit(T0, error: "connection refused"), M1));
    }

    [Fact]
    public void Consecutive_audits_count_each_candle_exactly_once()
    {
        var total = 0L;
        for (var n = 1; n <= 24; n++)
        {
            total += ServiceLevels.Between(T0.AddMinutes(5 * (n - 1)), IncidentRulesTests.Audit(T0.AddMinutes(5 * n)), M1).CandlesTotal;
        }

        Assert.Equal(120, total);
    }
}
