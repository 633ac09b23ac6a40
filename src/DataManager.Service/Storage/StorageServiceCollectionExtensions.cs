using DataManager.Configuration;
using DataManager.Storage.Mongo;
using DataManager.Storage.Sqlite;
using MongoDB.Driver;

namespace DataManager.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>MongoDB when <c>MONGODB_URL</c> is set, else the embedded SQLite store: one class per port over one database per backend.</summary>
    public static IServiceCollection AddDataManagerStore(this IServiceCollection services, StoreOptions options)
    {
        if (options.UsesMongo)
        {
            services.AddSingleton<IMongoClient>(_ => new MongoClient(MongoClientSettingsFactory.FromUrl(options.MongoUrl!)));
            services.AddSingleton(sp => new MongoStoreDatabase(sp.GetRequiredService<IMongoClient>(), options.MongoDatabase));
            services.AddSingleton<IStoreLifecycle, MongoStoreLifecycle>();
            services.AddSingleton<IAuditStore, MongoAuditStore>();
            services.AddSingleton<IHealthScoreStore, MongoHealthScoreStore>();
            services.AddSingleton<IBackfillJobStore, MongoBackfillJobStore>();
            services.AddSingleton<IAnalyticsStore, MongoAnalyticsStore>();
            services.AddSingleton<ICandleArchiveStore, MongoCandleArchiveStore>();
            services.AddSingleton<ILeaseStore, MongoLeaseStore>();
            services.AddSingleton<IIncidentStore, MongoIncidentStore>();
            services.AddSingleton<Auditing.IConfirmedEmptyRanges, MongoConfirmedEmptyRanges>();
        }
        else
        {
            services.AddSingleton(_ => new SqliteDatabase(options.SqlitePath));
            services.AddSingleton<IStoreLifecycle, SqliteStoreLifecycle>();
            services.AddSingleton<IAuditStore, SqliteAuditStore>();
            services.AddSingleton<IHealthScoreStore, SqliteHealthScoreStore>();
            services.AddSingleton<IBackfillJobStore, SqliteBackfillJobStore>();
            services.AddSingleton<IAnalyticsStore, SqliteAnalyticsStore>();
            services.AddSingleton<ICandleArchiveStore, SqliteCandleArchiveStore>();
            services.AddSingleton<ILeaseStore, SqliteLeaseStore>();
            services.AddSingleton<IIncidentStore, SqliteIncidentStore>();
            services.AddSingleton<Auditing.IConfirmedEmptyRanges>(sp => new SqliteConfirmedEmptyRanges(sp.GetRequiredService<SqliteDatabase>()));
        }

        services.AddSingleton<StoreReadiness>();
        services.AddHostedService<StoreInitializer>();
        return services;
    }
}

/// <summary>Whether the store has been initialised; work that writes waits for it.</summary>
public sealed class StoreReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _lastError;

    public bool IsReady => _ready.Task.IsCompleted;

    /// <summary>Why the last initialisation attempt failed, as one line; null before the first failure and once ready.</summary>
    public string? LastError { get => Volatile.Read(ref _lastError); internal set => Volatile.Write(ref _lastError, value); }

    public Task WaitAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    internal void MarkReady() => _ready.TrySetResult();
}

/// <summary>Creates tables/indexes at start, retrying until the store answers; the process keeps serving meanwhile.</summary>
internal sealed partial class StoreInitializer(IStoreLifecycle store, StoreReadiness readiness, TimeProvider time, ILogger<StoreInitializer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await store.InitializeAsync(stoppingToken);
                readiness.LastError = null;
                readiness.MarkReady();
                LogReady(logger, store.Describe());
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                readiness.LastError = StoreErrorText.OneLine(e);
                LogRetry(logger, store.Describe(), delay.TotalSeconds, readiness.LastError);
                await Task.Delay(delay, time, stoppingToken);
                delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 30));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Store ready: {Store}")]
    private static partial void LogReady(ILogger logger, string store);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Store {Store} not ready, retrying in {Seconds} s: {Error}")]
    private static partial void LogRetry(ILogger logger, string store, double seconds, string error);
}
