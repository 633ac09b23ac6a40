using DataManager.Configuration;
using DataManager.Http;
using DataManager.Incidents;
using DataManager.Leadership;
using Microsoft.Extensions.Options;

namespace DataManager.Hosting;

/// <summary>
/// Every setting of the service, read once per start: each options class bound once from the flat names, the
/// settings several classes need (DATA_DIR, INITIAL_STARTUP_DELAY, whether the store and candles are embedded)
/// read by one class and handed to the others, and every bad value as one line naming the setting.
/// </summary>
public sealed class DataManagerSettings
{
    private DataManagerSettings(IConfiguration configuration)
    {
        Service = BindableOptions.Read<ServiceOptions>(configuration);
        Store = BindableOptions.Read<StoreOptions>(configuration);
        Candles = BindableOptions.Read<CandleDatabaseOptions>(configuration);
        Series = BindableOptions.Read<SeriesOptions>(configuration);
        Nats = BindableOptions.Read<NatsOptions>(configuration);
        Audit = BindableOptions.Read<AuditOptions>(configuration);
        LeaderElection = BindableOptions.Read<LeaderElectionOptions>(configuration);
        Backfill = BindableOptions.Read<BackfillOptions>(configuration);
        Analytics = BindableOptions.Read<AnalyticsOptions>(configuration);
        Incidents = BindableOptions.Read<IncidentOptions>(configuration);
        ApiAccess = BindableOptions.Read<ApiAccessOptions>(configuration);
        LeaderWorkLog = BindableOptions.Read<LeaderWorkRecorderOptions>(configuration);

        Store.SqlitePath = Path.Combine(Service.DataDir, StoreOptions.FileName);
        Candles.SqlitePath = Path.Combine(Service.DataDir, CandleDatabaseOptions.FileName);
        Analytics.InitialDelay = Audit.InitialDelay;
        ApiAccess.EmbeddedMode = !Store.UsesMongo && Candles.IsEmbedded;
        Errors = [.. All.SelectMany(options => options.Validate().Failures ?? [])];
    }

    public ServiceOptions Service { get; }

    public StoreOptions Store { get; }

    public CandleDatabaseOptions Candles { get; }

    public SeriesOptions Series { get; }

    public NatsOptions Nats { get; }

    public AuditOptions Audit { get; }

    public LeaderElectionOptions LeaderElection { get; }

    public BackfillOptions Backfill { get; }

    public AnalyticsOptions Analytics { get; }

    public IncidentOptions Incidents { get; }

    public ApiAccessOptions ApiAccess { get; }

    public LeaderWorkRecorderOptions LeaderWorkLog { get; }

    /// <summary>One line per bad setting, naming it; empty when the service may start.</summary>
    public IReadOnlyList<string> Errors { get; }

    private IEnumerable<BindableOptions> All =>
        [Service, Store, Candles, Series, Nats, Audit, LeaderElection, Backfill, Analytics, Incidents, ApiAccess, LeaderWorkLog];

    public static DataManagerSettings Bind(IConfiguration configuration) => new(configuration);

    /// <summary>Registers every options instance bound here (not bound again), each validated at start.</summary>
    public IServiceCollection AddTo(IServiceCollection services) =>
        services
            .AddBoundOptions(Service)
            .AddBoundOptions(Store)
            .AddBoundOptions(Candles)
            .AddBoundOptions(Series)
            .AddBoundOptions(Nats)
            .AddBoundOptions(Audit)
            .AddBoundOptions(LeaderElection)
            .AddBoundOptions(Backfill)
            .AddBoundOptions(Analytics)
            .AddBoundOptions(Incidents)
            .AddBoundOptions(ApiAccess)
            .AddBoundOptions(LeaderWorkLog);
}

public static class DataManagerConfiguration
{
    /// <summary>The failures carried by a ValidateOnStart exception, one line each.</summary>
    public static IEnumerable<string> Failures(Exception exception) => exception switch
    {
        OptionsValidationException e => e.Failures,
        AggregateException e => e.InnerExceptions.SelectMany(Failures),
        _ => [],
    };
}

/// <summary>Thrown when the configuration is invalid; the process exits with code 2 after logging each line.</summary>
public sealed class InvalidConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration: " + string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
