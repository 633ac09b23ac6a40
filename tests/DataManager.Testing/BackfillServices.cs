using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DataManager.Testing;

/// <summary>The backfill runner composed as the service composes it, over a given job store and candle database; <c>replace</c> may register other implementations of its ports (registered last, they win).</summary>
public static class BackfillServices
{
    public static ServiceProvider Build(BackfillOptions options, IBackfillJobStore jobs, SqlCandleStore candles, ServiceOptions? service = null, Action<ILoggingBuilder>? logging = null, TimeProvider? time = null,
        Action<IServiceCollection>? replace = null)
    {
        var services = new ServiceCollection()
            .AddLogging(builder => logging?.Invoke(builder))
            .AddSingleton(time ?? TimeProvider.System)
            .AddSingleton(Options.Create(options))
            .AddSingleton(Options.Create(service ?? new ServiceOptions { PodId = "test-pod" }))
            .AddSingleton(Options.Create(new AuditOptions()))
            .AddSingleton(jobs)
            .AddSingleton<ICandleSource>(candles)
            .AddSingleton<ICandleWriter>(candles)
            .AddSingleton<SeriesAuditor>()
            .AddBinanceClient(options);
        replace?.Invoke(services);
        return services.BuildServiceProvider();
    }
}
