namespace DataManager.Incidents;

public enum IncidentKind
{
    Gap,
    Duplicate,
    Integrity,
    Stale,
    MissingTable,
}

/// <summary>Ordered: a higher value is worse. An incident's severity only ever rises.</summary>
public enum IncidentSeverity
{
    Minor,
    Major,
    Critical,
}

public enum IncidentState
{
    Open,
    Resolved,
}

public enum ResolutionCause
{
    /// <summary>A completed backfill job covering the incident's range wrote candles.</summary>
    Backfilled,

    /// <summary>The extractor wrote the missing data itself, later.</summary>
    LateWrite,

    DuplicatesRemoved,

    /// <summary>Binance confirmed it has no candles there: not a data-quality problem.</summary>
    SourceEmpty,

    /// <summary>It disappeared for no reason the service can name (e.g. it left the audit window).</summary>
    Unexplained,
}

/// <summary>
/// One data-quality problem of one series, from the first audit that saw it to the first audit that no longer
/// does. <see cref="From"/>..<see cref="To"/> are the open times affected (inclusive). Written only by the
/// leader (with its term), replaced under an optimistic <see cref="Version"/>.
/// </summary>
public sealed record Incident
{
    public required string Id { get; init; }

    public required string Symbol { get; init; }

    public required string Timeframe { get; init; }

    public required IncidentKind Kind { get; init; }

    /// <summary>The integrity rule for <see cref="IncidentKind.Integrity"/>; empty otherwise.</summary>
    public string Rule { get; init; } = "";

    public IncidentState State { get; init; } = IncidentState.Open;

    public required IncidentSeverity Severity { get; init; }

    public required DateTimeOffset From { get; init; }

    public required DateTimeOffset To { get; init; }

    /// <summary>Missing candles (gap), surplus rows (duplicate), violating rows (integrity); 0 otherwise.</summary>
    public int Size { get; init; }

    /// <summary>When the first missing candle was due (its close); gaps only.</summary>
    public DateTimeOffset? DueAt { get; init; }

    /// <summary>The time of the first audit that saw it.</summary>
    public required DateTimeOffset OpenedAt { get; init; }

    /// <summary>The time of the newest audit applied to it (seen or resolved); older audits are ignored, so applying one twice changes nothing.</summary>
    public required DateTimeOffset LastAuditAt { get; init; }

    public DateTimeOffset? ResolvedAt { get; init; }

    public ResolutionCause? Cause { get; init; }

    public string? BackfillJobId { get; init; }

    /// <summary>From <see cref="DueAt"/> to the first audit that saw it (gaps only).</summary>
    public double? DetectSeconds { get; init; }

    /// <summary>From <see cref="OpenedAt"/> to <see cref="ResolvedAt"/>.</summary>
    public double? RepairSeconds { get; init; }

    /// <summary>The leader term of the last write.</summary>
    public required long Term { get; init; }

    public long Version { get; init; }

    /// <summary>Every audit that saw it (consecutive audits that changed nothing are one entry with a count), then its resolution.</summary>
    public IReadOnlyList<IncidentEvent> Timeline { get; init; } = [];
}

public enum IncidentEventKind
{
    Opened,
    Seen,
    Changed,
    Resolved,
}

/// <summary>One step of an incident: <see cref="Audits"/> consecutive audits from <see cref="At"/> to <see cref="Until"/> that saw the same thing.</summary>
public sealed record IncidentEvent(
    IncidentEventKind Event,
    DateTimeOffset At,
    DateTimeOffset Until,
    int Audits,
    string CycleId,
    IncidentSeverity Severity,
    int Size,
    DateTimeOffset From,
    DateTimeOffset To,
    ResolutionCause? Cause = null,
    string? BackfillJobId = null);

public sealed record IncidentQuery(
    IncidentState? State = null,
    string? Symbol = null,
    string? Timeframe = null,
    IncidentSeverity? Severity = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    int Skip = 0,
    int Limit = 100);
