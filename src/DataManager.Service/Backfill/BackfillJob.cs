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

/// <summary>A request to refill <c>[From, To)</c> of one series from Binance, with its progress.</summary>
public sealed record BackfillJob
{
    public required string Id { get; init; }

    public required string Symbol { get; init; }

    public required string Timeframe { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    /// <summary><c>manual</c> or <c>auto</c>.</summary>
    public required string Trigger { get; init; }

    public BackfillJobState State { get; init; } = BackfillJobState.Pending;

    /// <summary>The API token's name that created a manual job (<c>local</c> in embedded mode without tokens); null for auto jobs.</summary>
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

    /// <summary>The leader term of the replica that last ran it; a stale term means the job can be taken over.</summary>
    public long Term { get; init; }

    /// <summary>Optimistic concurrency: every update must name the version it read.</summary>
    public long Version { get; init; }

    /// <summary>After the job: the audit's gap check over its range.</summary>
    public string? Verification { get; init; }

    /// <summary>Ranges Binance returned empty (an outage, before listing): later audits mark such gaps sourceEmpty.</summary>
    public IReadOnlyList<EmptyRange> ConfirmedEmpty { get; init; } = [];
}

/// <summary>Open times <c>[From, To)</c> the exchange has no candles for.</summary>
public sealed record EmptyRange(DateTimeOffset From, DateTimeOffset To);
