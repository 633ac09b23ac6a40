using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;

namespace DataManager.Tests.Backfill;

public sealed class AutoBackfillPlanTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static AuditRecord Audit(string symbol, params GapFinding[] gaps) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        CycleId = "c1",
        Term = 1,
        Symbol = symbol,
        Timeframe = "1m",
        WindowFrom = T0,
        WindowTo = T0.AddDays(1),
        AuditedAt = T0.AddDays(1),
        Gaps = gaps,
    };

    // A gap of whole minutes [from, to], as the audit reports it (To is the last missing open time).
    private static GapFinding Gap(double fromHour, double hours, bool sourceEmpty = false) =>
        new(T0.AddHours(fromHour), T0.AddHours(fromHour + hours).AddMinutes(-1), (int)(hours * 60), sourceEmpty);

    private static BackfillJob Job(string symbol, double fromHour, double hours, string trigger, BackfillJobState state) =>
        BackfillJobs.New(new SeriesKey(symbol, Timeframe.Parse("1m")), T0.AddHours(fromHour), T0.AddHours(fromHour + hours), trigger, T0) with { State = state };

    [Fact]
    public void Long_enough_gaps_no_known_job_covers_become_jobs_and_source_empty_or_short_ones_do_not()
    {
        var records = new[]
        {
            Audit("ETHUSDT", Gap(1, 2)),
            Audit("BTCUSDT", Gap(5, 1), Gap(1, 0.5), Gap(3, 1, sourceEmpty: true), Gap(8, 1)),
            Audit("SOLUSDT", Gap(1, 2)) with { Error = "table missing" },
        };
        var known = new[] { Job("BTCUSDT", 8.5, 1, BackfillTriggers.Manual, BackfillJobState.Completed) };

        var plan = AutoBackfillPlan.For(records, known, Hour, 5);

        Assert.Null(plan.WaitingForCap);
        Assert.Equal([("BTCUSDT", T0.AddHours(5), T0.AddHours(6)), ("ETHUSDT", T0.AddHours(1), T0.AddHours(3))],
            plan.Jobs.Select(j => (j.Series.Symbol, j.From, j.To)).ToArray());
    }

    [Fact]
    public void Only_pending_or_running_auto_jobs_count_against_the_cap()
    {
        var records = new[] { Audit("BTCUSDT", Gap(1, 2), Gap(4, 2), Gap(7, 2)) };
        var known = new[]
        {
            Job("ETHUSDT", 0, 1, BackfillTriggers.Auto, BackfillJobState.Running),
            Job("ETHUSDT", 2, 1, BackfillTriggers.Auto, BackfillJobState.Completed),
            Job("ETHUSDT", 4, 1, BackfillTriggers.Manual, BackfillJobState.Pending),
        };

        var plan = AutoBackfillPlan.For(records, known, Hour, 3);

        Assert.Equal([T0.AddHours(1), T0.AddHours(4)], plan.Jobs.Select(j => j.From).ToArray());
        Assert.Equal("BTCUSDT", plan.WaitingForCap?.Symbol);
    }
}
