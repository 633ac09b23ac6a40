using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Health;
using DataManager.Http;
using DataManager.Leadership;
using DataManager.Storage;
using DataManager.Tracking;
using Prometheus;

namespace DataManager.Hosting;

public static class DataManagerHostExtensions
{
    /// <summary>Composes the whole service: configuration, logging, store, candle source, NATS, health and metrics.</summary>
    public static WebApplicationBuilder AddDataManager(this WebApplicationBuilder builder)
    {
        var errors = DataManagerConfiguration.Validate(builder.Configuration);
        if (errors.Count > 0)
        {
            throw new InvalidConfigurationException(errors);
        }

        var service = BindableOptionsServiceCollectionExtensions.BindNow<ServiceOptions>(builder.Configuration);
        var store = BindableOptionsServiceCollectionExtensions.BindNow<StoreOptions>(builder.Configuration);
        var candles = BindableOptionsServiceCollectionExtensions.BindNow<CandleDatabaseOptions>(builder.Configuration);
        var nats = BindableOptionsServiceCollectionExtensions.BindNow<NatsOptions>(builder.Configuration);
        var audit = BindableOptionsServiceCollectionExtensions.BindNow<AuditOptions>(builder.Configuration);

        builder.AddDataManagerLogging(service);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenAnyIP(service.ApiPort));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = service.ShutdownTimeout);

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddDataManagerOptions();
        builder.Services.AddDataManagerStore(store);
        builder.Services.AddCandleDatabase(candles);
        builder.Services.AddNatsConnection(nats, BindableOptionsServiceCollectionExtensions.BindNow<SeriesOptions>(builder.Configuration), service.PodId);
        builder.Services.AddLeadership(builder.Configuration);
        builder.Services.AddAuditing(audit);
        builder.Services.AddBinanceClient(BindableOptionsServiceCollectionExtensions.BindNow<BackfillOptions>(builder.Configuration));
        builder.Services.AddAnalytics(BindableOptionsServiceCollectionExtensions.BindNow<AnalyticsOptions>(builder.Configuration));
        builder.Services.AddReadinessChecks();
        builder.Services.AddHostedService<StartupBanner>();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = StoreJson.Options.PropertyNamingPolicy;
            foreach (var converter in StoreJson.Options.Converters)
            {
                json.SerializerOptions.Converters.Add(converter);
            }
        });
        builder.AddDataManagerHttp();
        return builder;
    }

    public static WebApplication MapDataManager(this WebApplication app)
    {
        app.UseDataManagerHttpGuards();
        app.UseHttpMetrics();
        app.UseDataManagerHttp();
        app.MapHealthEndpoints();
        app.MapLeadershipEndpoints();
        app.MapAuditEndpoints();
        app.MapTrackerEndpoints();
        app.MapAnalyticsEndpoints();
        app.MapBackfillEndpoints();
        app.MapMetrics("/metrics").WithMetadata(new HttpMethodMetadata(ApiRoutes.GetOrHead));
        app.MapOpenApi(ApiContract.DocumentPath.Replace("v1", "{documentName}", StringComparison.Ordinal));
        return app;
    }
}
