using DataManager.Analytics;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Health;
using DataManager.Incidents;
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
        var settings = DataManagerSettings.Bind(builder.Configuration);
        if (settings.Errors.Count > 0)
        {
            throw new InvalidConfigurationException(settings.Errors);
        }

        var (service, store, candles) = (settings.Service, settings.Store, settings.Candles);
        if ((!store.UsesMongo || candles.IsEmbedded) && DataDirectory.Unusable(service.DataDir) is { } unusable)
        {
            // The embedded store or demo lives there: without it the replica could only ever answer 503.
            throw new InvalidConfigurationException([unusable]);
        }

        // The store's SQLite helper waits for a lock without holding a thread, but one wait stays inside SQLite: when
        // another process holds the WAL index's locks, a call blocks its thread for ~10 s before failing (error 15),
        // and requests answered 503 at their budget leave that work running. Start enough pool threads at once that
        // the budget's own timers and new requests are not queued behind them while the pool grows (a thread per ~0.5 s).
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), completionPorts);
        builder.AddDataManagerLogging(service);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenAnyIP(service.ApiPort));
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = service.ShutdownTimeout);

        builder.Services.AddSingleton(TimeProvider.System);
        settings.AddTo(builder.Services);
        builder.Services.AddMetricsRegistry();
        builder.Services.AddDataManagerStore(store);
        builder.Services.AddCandleDatabase(candles);
        builder.Services.AddNatsConnection(settings.Nats, settings.Series, service.PodId);
        builder.Services.AddLeadership();
        builder.Services.AddAuditing(settings.Audit);
        builder.Services.AddIncidents(settings.Audit.Enabled, settings.Incidents);
        builder.Services.AddBinanceClient(settings.Backfill);
        builder.Services.AddAnalytics(settings.Analytics);
        builder.Services.AddReadinessChecks();
        builder.Services.AddHostedService<StartupBanner>();
        builder.Services.AddHostedService<MetricsBaseline>();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = StoreJson.Options.PropertyNamingPolicy;
            foreach (var converter in StoreJson.Options.Converters)
            {
                json.SerializerOptions.Converters.Add(converter);
            }
        });
        builder.AddDataManagerHttp(settings.ApiAccess);
        builder.Services.AddSingleton<StoreOutageLog>();
        return builder;
    }

    public static WebApplication MapDataManager(this WebApplication app)
    {
        app.UseDataManagerHttpGuards();
        app.UseHttpMetrics(http => http.SetMetricFactory(app.Services.GetRequiredService<IMetricFactory>()));
        app.UseDataManagerHttp();
        app.MapHealthEndpoints();
        app.MapLeadershipEndpoints();
        app.MapTrackerEndpoints();
        // Every endpoint that reads the store: an outage is a 503 with problem details within 2 s.
        var store = app.MapGroup("").AddEndpointFilter<StoreOutageFilter>()
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status503ServiceUnavailable, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
        store.MapAuditEndpoints();
        store.MapAnalyticsEndpoints();
        store.MapBackfillEndpoints();
        store.MapIncidentEndpoints();
        app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>()).WithMetadata(new HttpMethodMetadata(ApiRoutes.GetOrHead));
        app.MapOpenApi(ApiContract.DocumentRoute);
        return app;
    }
}
