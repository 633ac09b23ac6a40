using DataManager.Configuration;

namespace DataManager.Incidents;

/// <summary>Incident tracking runs on the leader whenever the auditor does (ENABLE_AUDITOR).</summary>
public sealed class IncidentOptions : BindableOptions
{
    /// <summary>How often the leader reads finished audit cycles into incidents.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    public int RetentionDays { get; set; } = 90;

    public override void Bind(SettingsReader reader)
    {
        Interval = reader.Seconds("INCIDENT_INTERVAL", 30, 0.05, 86_400);
        RetentionDays = reader.WholeNumber("INCIDENT_RETENTION_DAYS", 90, 1, 3_650);
    }
}
