using DataManager.Candles;

namespace DataManager.Backfill;

public enum BackfillJobState
{
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

public static class BackfillJobStates
{
    /// <summary>The states a job never leaves: it can no longer be cancelled, and retention may delete it.</summary>
    public static readonly IReadOnlyList<BackfillJobState> Ended = [BackfillJobState.Completed, BackfillJobState.Failed, BackfillJobState.Cancelled];

    public static bool IsEnded(BackfillJobState state) => Ended.Contains(state);
}

/// <summary>What created a job, as stored and answered (<c>trigger</c>): the API or the CLI, or the auto-backfill loop.</summary>
public static class BackfillTriggers
{
    public const string Manual = "manual";

    public const string Auto = "auto";
}

/// <summary>A request to refill <c>[From, To)</c> of one series from Binance, with its progress.</summary>
public sealed record BackfillJob
{
    public required string Id { get; init; }

    public required string Symbol { get; init; }

    public required string Timeframe { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    /// <summary>Who asked for the job: one of <see cref="BackfillTriggers"/>.</summary>
    public required string Trigger { get; init; }

    public BackfillJobState State { get; init; } = BackfillJobState.Pending;

    /// <summary>
    /// The API token's name that created a manual job (<c>local</c> in embedded mode without tokens), or
    /// <c>cli@POD</c> for the backfill verb's; null for auto jobs.
    /// </summary>
    public string? CreatedBy { get; init; }

    public long ExpectedCandles { get; init; }

    public long FetchedCandles { get; init; }

    public long WrittenCandles { get; init; }

    /// <summary>The next open time to fetch; advances only after a batch is committed.</summary>
    public DateTimeOffset? Cursor { get; init; }

    public int Attempts { get; init; }

    public string? LastError { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The leader term of the replica that last ran it.</summary>
    public long Term { get; init; }

    /// <summary>The pod (POD_NAME) of the process that last ran it.</summary>
    public string? Owner { get; init; }

    /// <summary>
    /// The process incarnation that last ran it: a running job owned by another incarnation (a killed or
    /// deposed process, even one restarted under the same POD_NAME and term) is taken over by the leader, at
    /// once or once its heartbeat (<see cref="UpdatedAt"/>) lapses (see <see cref="BackfillRunner.MayTakeOver"/>).
    /// </summary>
    public string? OwnerIncarnation { get; init; }

    /// <summary>Binance request weight this job has spent, retries included.</summary>
    public long WeightUsed { get; init; }

    /// <summary>Optimistic concurrency: every update must name the version it read.</summary>
    public long Version { get; init; }

    /// <summary>After the job: the audit's gap check over its range.</summary>
    public string? Verification { get; init; }

    /// <summary>Ranges Binance returned empty (an outage, before listing): later audits mark such gaps sourceEmpty.</summary>
    public IReadOnlyList<EmptyRange> ConfirmedEmpty { get; init; } = [];
}

/// <summary>
/// Where a page of jobs (newest first) ended: the next page starts after it. Travels as the opaque cursor
/// <c>{created Unix ms}.{id}</c>; job times are kept to the millisecond in both stores.
/// </summary>
public sealed record BackfillJobPosition(DateTimeOffset CreatedAt, string Id)
{
    public static BackfillJobPosition Of(BackfillJob job) => new(job.CreatedAt, job.Id);

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{CreatedAt.ToUnixTimeMilliseconds()}.{Id}");

    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BackfillJobPosition? position)
    {
        position = null;
        var dot = text?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (dot <= 0 || dot == text!.Length - 1
            || !long.TryParse(text.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return false;
        }

        position = new BackfillJobPosition(DateTimeOffset.FromUnixTimeMilliseconds(ms), text[(dot + 1)..]);
        return true;
    }
}

public static class BackfillJobs
{
    public static BackfillJob New(SeriesKey series, DateTimeOffset from, DateTimeOffset to, string trigger, DateTimeOffset now) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Symbol = series.Symbol,
        Timeframe = series.Timeframe.Name,
        From = from,
        To = to,
        Trigger = trigger,
        State = BackfillJobState.Pending,
        ExpectedCandles = AuditGrid.For(from.UtcDateTime, to.UtcDateTime, series.Timeframe.Interval).Size,
        CreatedAt = now,
        UpdatedAt = now,
    };
}
