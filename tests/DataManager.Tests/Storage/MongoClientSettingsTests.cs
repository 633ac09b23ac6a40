using DataManager.Storage.Mongo;

namespace DataManager.Tests.Storage;

/// <summary>Options stated in MONGODB_URL win over the service's defaults (no server needed: settings only).</summary>
public sealed class MongoClientSettingsTests
{
    [Fact]
    public void Options_in_the_url_win()
    {
        var settings = MongoClientSettingsFactory.FromUrl(
            "mongodb://user:secret@mongo-0,mongo-1,mongo-2/?replicaSet=rs0&serverSelectionTimeoutMS=45000&appName=dm-blue&retryWrites=false&retryReads=false");
        Assert.Equal(TimeSpan.FromSeconds(45), settings.ServerSelectionTimeout);
        Assert.Equal("dm-blue", settings.ApplicationName);
        Assert.False(settings.RetryWrites);
        Assert.False(settings.RetryReads);
        Assert.Equal("rs0", settings.ReplicaSetName);
    }

    [Fact]
    public void Defaults_fill_in_what_the_url_leaves_out_and_outlast_an_election()
    {
        var settings = MongoClientSettingsFactory.FromUrl("mongodb://mongo-0,mongo-1,mongo-2/?replicaSet=rs0");
        Assert.Equal(MongoClientSettingsFactory.DefaultServerSelectionTimeout, settings.ServerSelectionTimeout);
        Assert.True(settings.ServerSelectionTimeout > TimeSpan.FromSeconds(12), "shorter than a typical replica-set election");
        Assert.Equal("data-manager", settings.ApplicationName);
        Assert.True(settings.RetryWrites);
        Assert.True(settings.RetryReads);
    }

    [Fact]
    public void A_short_timeout_stated_in_the_url_is_kept()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), MongoClientSettingsFactory.FromUrl("mongodb://127.0.0.1/?serverSelectionTimeoutMS=2000").ServerSelectionTimeout);
    }
}
