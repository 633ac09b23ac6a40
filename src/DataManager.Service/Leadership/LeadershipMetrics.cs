using Prometheus;

namespace DataManager.Leadership;

/// <summary>The elector's Prometheus metrics, created in the host's registry.</summary>
public sealed class LeadershipMetrics(IMetricFactory factory)
{
    public Gauge LeaderStatus { get; } = factory.CreateGauge("data_manager_audit_leader_status", "1 while this replica is the leader, else 0.");

    public Gauge LeaderTerm { get; } = factory.CreateGauge("data_manager_leader_term", "The lease term this replica last saw.");

    public Counter Transitions { get; } = factory.CreateCounter("data_manager_leader_transitions_total", "Times this replica became leader or stopped being leader.");

    public Counter RenewFailures { get; } = factory.CreateCounter("data_manager_leader_renew_failures_total", "Lease writes that failed (store error or timeout).");
}
