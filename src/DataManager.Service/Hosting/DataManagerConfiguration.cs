using DataManager.Configuration;
using Microsoft.Extensions.Options;

namespace DataManager.Hosting;

/// <summary>Every options class of the service, bound together so a bad start reports every bad variable at once.</summary>
public static class DataManagerConfiguration
{
    private static readonly Func<IConfiguration, BindableOptions>[] Binders =
    [
        BindableOptionsServiceCollectionExtensions.BindNow<ServiceOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<StoreOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<CandleDatabaseOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<SeriesOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<NatsOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<AuditOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<LeaderElectionOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<BackfillOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<AnalyticsOptions>,
        BindableOptionsServiceCollectionExtensions.BindNow<Http.ApiAccessOptions>,
    ];

    public static IReadOnlyList<string> Validate(IConfiguration configuration) =>
        [.. Binders.SelectMany(bind => bind(configuration).Errors).Distinct()];

    public static IServiceCollection AddDataManagerOptions(this IServiceCollection services) =>
        services
            .AddBindableOptions<ServiceOptions>()
            .AddBindableOptions<StoreOptions>()
            .AddBindableOptions<CandleDatabaseOptions>()
            .AddBindableOptions<SeriesOptions>()
            .AddBindableOptions<NatsOptions>()
            .AddBindableOptions<AuditOptions>()
            .AddBindableOptions<LeaderElectionOptions>()
            .AddBindableOptions<BackfillOptions>()
            .AddBindableOptions<AnalyticsOptions>();

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
