using System.Text.Json.Serialization;

namespace DataManager.Auditing;

/// <summary>
/// What an audit of one series found: shared by the auditor's report and the stored record, so a record takes
/// a report's findings in one step (the record copy constructor) instead of field by field.
/// </summary>
public abstract record AuditFindings
{
    public int ExpectedCandles { get; init; }

    public int ActualCandles { get; init; }

    public IReadOnlyList<GapFinding> Gaps { get; init; } = [];

    public IReadOnlyList<DuplicateFinding> Duplicates { get; init; } = [];

    public int DuplicateSurplus { get; init; }

    public IReadOnlyList<IntegrityFinding> Integrity { get; init; } = [];

    public IReadOnlyList<AnomalyFinding> Anomalies { get; init; } = [];

    public HealthScore? Health { get; init; }

    /// <summary>In JSON after the findings: a record puts its duplicatesRemoved before it, a report after it.</summary>
    [JsonPropertyOrder(2)]
    public string? Error { get; init; }
}

/// <summary>The audit of one series in one cycle: what was found, the health it scores, and who wrote it.</summary>
public sealed record AuditRecord : AuditFindings
{
    public AuditRecord()
    {
    }

    /// <summary>A record of <paramref name="findings"/>; the caller says which audit it is, of what and when.</summary>
    public AuditRecord(AuditFindings findings)
        : base(findings)
    {
    }

    public required string Id { get; init; }

    public required string CycleId { get; init; }

    /// <summary>The leader term under which the audit ran (fencing).</summary>
    public required long Term { get; init; }

    public required string Symbol { get; init; }

    public required string Timeframe { get; init; }

    public required DateTimeOffset WindowFrom { get; init; }

    public required DateTimeOffset WindowTo { get; init; }

    public required DateTimeOffset AuditedAt { get; init; }

    /// <summary>Duplicate rows deleted after this audit (ENABLE_DUPLICATE_REMOVAL); the audit itself shows the state before.</summary>
    [JsonPropertyOrder(1)]
    public int DuplicatesRemoved { get; init; }
}

public sealed record GapFinding(DateTimeOffset From, DateTimeOffset To, int MissingCandles, bool SourceEmpty = false);

public sealed record DuplicateFinding(DateTimeOffset OpenTime, int Rows);

public sealed record IntegrityFinding(DateTimeOffset OpenTime, string Rule, string? RowId = null);

public sealed record AnomalyFinding(DateTimeOffset OpenTime, string Kind, double Score);

public sealed record HealthScore(double Completeness, double Freshness, double Consistency, double Quality, string Level);

/// <summary>One point of a series' health history.</summary>
public sealed record HealthScoreRecord
{
    public required string Id { get; init; }

    public required string Symbol { get; init; }

    public required string Timeframe { get; init; }

    public required DateTimeOffset At { get; init; }

    public required long Term { get; init; }

    public required HealthScore Health { get; init; }
}

/// <summary>The summary of one audit cycle, readable by every replica for /health/audit-status.</summary>
public sealed record AuditCycleRecord
{
    public required string Id { get; init; }

    public required long Term { get; init; }

    public required string Leader { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    public int SeriesAudited { get; init; }

    public int Gaps { get; init; }

    public int DuplicateSurplus { get; init; }

    public int IntegrityViolations { get; init; }

    public int Errors { get; init; }

    public DateTimeOffset? NextCycleAt { get; init; }
}

public sealed record AuditQuery(
    string? Symbol = null,
    string? Timeframe = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    int Skip = 0,
    int Limit = 100);
