using MongoDB.Driver;
using MongoDB.Driver.Core.Configuration;

namespace DataManager.Storage.Mongo;

/// <summary>
/// The client settings from <c>MONGODB_URL</c>: every option the URL states wins; the service only fills in
/// what it leaves out. Write and read concern are the exception: the store forces majority on its database,
/// because a lease acknowledged by a minority could roll back in a failover and leave two leaders.
/// </summary>
public static class MongoClientSettingsFactory
{
    /// <summary>
    /// Longer than a replica-set election (about 10 to 12 s with the default electionTimeoutMillis), so an
    /// operation started during one waits for the new primary instead of failing; the driver's own default.
    /// </summary>
    public static readonly TimeSpan DefaultServerSelectionTimeout = TimeSpan.FromSeconds(30);

    public const string DefaultApplicationName = "data-manager";

    public static MongoClientSettings FromUrl(string url)
    {
        var stated = new ConnectionString(url);
        var settings = MongoClientSettings.FromConnectionString(url);
        if (stated.ServerSelectionTimeout is null)
        {
            settings.ServerSelectionTimeout = DefaultServerSelectionTimeout;
        }

        if (stated.ApplicationName is null)
        {
            settings.ApplicationName = DefaultApplicationName;
        }

        // Retryable writes and reads are on unless the URL turns them off (the driver's default, stated here
        // because the lease relies on a write interrupted by a step-down being retried once on the new primary).
        settings.RetryWrites = stated.RetryWrites ?? true;
        settings.RetryReads = stated.RetryReads ?? true;
        return settings;
    }
}
