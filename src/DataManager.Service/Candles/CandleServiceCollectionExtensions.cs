using DataManager.Configuration;

namespace DataManager.Candles;

public static class CandleServiceCollectionExtensions
{
    /// <summary>The extractor's MySQL when configured; else the embedded SQLite demo database, seeded on first run.</summary>
    public static IServiceCollection AddCandleDatabase(this IServiceCollection services, CandleDatabaseOptions options)
    {
        if (options.IsEmbedded)
        {
            var dialect = new SqliteCandleDialect(options.SqlitePath);
            services.AddSingleton(dialect);
            services.AddSingleton<CandleDialect>(dialect);
            services.AddSingleton<EmbeddedCandleDatabase>();
        }
        else
        {
            services.AddSingleton<CandleDialect>(new MySqlCandleDialect(options.MySqlConnectionString!));
        }

        services.AddSingleton<SqlCandleStore>();
        services.AddSingleton<ICandleSource>(sp => sp.GetRequiredService<SqlCandleStore>());
        services.AddSingleton<ICandleWriter>(sp => sp.GetRequiredService<SqlCandleStore>());
        services.AddSingleton<CandleReadiness>();
        services.AddHostedService<CandleDatabaseInitializer>();
        return services;
    }
}

/// <summary>Completes once the candle database can be read (the embedded one seeded).</summary>
public sealed class CandleReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task WaitAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    internal void MarkReady() => _ready.TrySetResult();
}

internal sealed partial class CandleDatabaseInitializer(IServiceProvider services, CandleReadiness readiness, TimeProvider time, ILogger<CandleDatabaseInitializer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var embedded = services.GetService<EmbeddedCandleDatabase>();
        while (embedded is not null && !stoppingToken.IsCancellationRequested)
        {
            try
            {
                await embedded.EnsureSeededAsync(stoppingToken);
                break;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogSeedFailed(logger, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken);
            }
        }

        readiness.MarkReady();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Seeding the embedded candle database failed, retrying: {Error}")]
    private static partial void LogSeedFailed(ILogger logger, string error);
}
