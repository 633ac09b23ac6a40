using DataManager.Configuration;

namespace DataManager.Incidents;

/// <summary>Incident tracking and the quality SLIs run on the leader whenever the auditor does (ENABLE_AUDITOR).</summary>
public sealed class IncidentOptions : BindableOptions
{
    /// <summary>How often the leader reads finished audit cycles into incidents.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    public int RetentionDays { get; set; } = 90;

    /// <summary>Objective of the completeness SLI, percent (QUALITY_SLO_COMPLETENESS).</summary>
    public double CompletenessObjective { get; set; } = 99.9;

    /// <summary>Objective of the freshness SLI, percent (QUALITY_SLO_FRESHNESS).</summary>
    public double FreshnessObjective { get; set; } = 99;

    public override void Bind(SettingsReader reader)
    {
        Interval = reader.Seconds("INCIDENT_INTERVAL", Interval, 0.05, 86_400);
        RetentionDays = reader.WholeNumber("INCIDENT_RETENTION_DAYS", RetentionDays, 1, 3_650);
        CompletenessObjective = reader.Number("QUALITY_SLO_COMPLETENESS", CompletenessObjective, 50, 99.999, "a percentage");
        FreshnessObjective = reader.Number("QUALITY_SLO_FRESHNESS", FreshnessObjective, 50, 99.999, "a percentage");
    }
}
