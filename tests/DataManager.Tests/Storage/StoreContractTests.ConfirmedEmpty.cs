using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Storage;

namespace DataManager.Tests.Storage;

/// <summary>The confirmed-empty port's half of the store contract: it reads what the job store wrote.</summary>
public abstract partial class StoreContractTests
{
    /// <summary>A new, empty, initialised job store and the confirmed-empty port over the same database.</summary>
    protected abstract Task<(IBackfillJobStore Jobs, IConfirmedEmptyRanges Ranges)> CreateConfirmedEmptyRangesAsync();

    private static BackfillJob EndedJob(string id, string symbol, string timeframe, BackfillJobState state, params EmptyRange[] empty) => new()
    {
        Id = id,
        Symbol = symbol,
        Timeframe = timeframe,
        From = T0,
        To = T0.AddDays(1),
        Trigger = BackfillTriggers.Auto,
        State = state,
        CreatedAt = T0.AddDays(1),
        UpdatedAt = T0.AddDays(1),
        ConfirmedEmpty = empty,
    };

    [Fact]
    public async Task Confirmed_empty_ranges_are_those_of_completed_jobs_of_the_series_that_overlap_the_window()
    {
        var (jobs, ranges) = await CreateConfirmedEmptyRangesAsync();
        var series = new SeriesKey("BTCUSDT", Timeframe.Parse("1m"));
        var early = new EmptyRange(T0.AddHours(1), T0.AddHours(2));
        var late = new EmptyRange(T0.AddHours(5), T0.AddHours(6).AddMilliseconds(500));
        var other = new EmptyRange(T0.AddHours(3), T0.AddHours(4));
        await jobs.CreateAsync(EndedJob("done", "BTCUSDT", "1m", BackfillJobState.Completed, late, early), Ct);
        await jobs.CreateAsync(EndedJob("done-too", "BTCUSDT", "1m", BackfillJobState.Completed, other), Ct);
        await jobs.CreateAsync(EndedJob("failed", "BTCUSDT", "1m", BackfillJobState.Failed, new EmptyRange(T0.AddHours(7), T0.AddHours(8))), Ct);
        await jobs.CreateAsync(EndedJob("other-timeframe", "BTCUSDT", "5m", BackfillJobState.Completed, new EmptyRange(T0.AddHours(9), T0.AddHours(10))), Ct);
        await jobs.CreateAsync(EndedJob("other-symbol", "ETHUSDT", "1m", BackfillJobState.Completed, new EmptyRange(T0.AddHours(11), T0.AddHours(12))), Ct);
        await jobs.CreateAsync(EndedJob("nothing-empty", "BTCUSDT", "1m", BackfillJobState.Completed), Ct);

        Assert.Equal([early, other, late], await ranges.OverlappingAsync(series, T0, T0.AddDays(1), Ct));
        // Half-open windows: a range ending where the window starts, or starting where it ends, is outside it.
        Assert.Equal([other], await ranges.OverlappingAsync(series, T0.AddHours(2), T0.AddHours(5), Ct));
        Assert.Equal([late], await ranges.OverlappingAsync(series, T0.AddHours(6), T0.AddHours(7), Ct)); // its end is 06:00:00.5
        Assert.Empty(await ranges.OverlappingAsync(series, T0.AddHours(6).AddMilliseconds(500), T0.AddDays(1), Ct));
        Assert.Empty(await ranges.OverlappingAsync(new SeriesKey("SOLUSDT", series.Timeframe), T0, T0.AddDays(1), Ct));

        // A job that completes later is seen by the next question.
        var running = EndedJob("later", "BTCUSDT", "1m", BackfillJobState.Running);
        await jobs.CreateAsync(running, Ct);
        var found = new EmptyRange(T0.AddHours(20), T0.AddHours(21));
        Assert.True(await jobs.TryUpdateAsync(running with { State = BackfillJobState.Completed, ConfirmedEmpty = [found] }, 0, Ct));
        Assert.Equal([found], await ranges.OverlappingAsync(series, T0.AddHours(20), T0.AddHours(22), Ct));
    }
}
