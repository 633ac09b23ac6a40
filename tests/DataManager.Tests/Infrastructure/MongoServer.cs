using MongoDB.Driver;
using Testcontainers.MongoDb;

namespace DataManager.Tests.Infrastructure;

/// <summary>
/// MongoDB for the store contract suite: <c>MONGODB_TEST_URI</c>, else Testcontainers when Docker answers.
/// No MongoDB binary ships for this machine, so here it is reported unavailable with that reason.
/// </summary>
public sealed class MongoServer : IAsyncLifetime
{
    private MongoDbContainer? _container;

    public string? UnavailableReason { get; private set; }

    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        try
        {
            if (Environment.GetEnvironmentVariable("MONGODB_TEST_URI") is { Length: > 0 } uri)
            {
                ConnectionString = uri;
            }
            else if (ServerAvailability.DockerMayAnswer())
            {
                _container = new MongoDbBuilder("mongo:7.0").WithReplicaSet().Build();
                await _container.StartAsync();
                ConnectionString = _container.GetConnectionString();
            }
            else
            {
                UnavailableReason = "no MONGODB_TEST_URI and no Docker; no MongoDB server ships for this machine";
                return;
            }

            var client = new MongoClient(ConnectionString);
            await client.GetDatabase("admin").RunCommandAsync<MongoDB.Bson.BsonDocument>(new MongoDB.Bson.BsonDocument("ping", 1));
        }
        catch (Exception e)
        {
            UnavailableReason = "could not reach MongoDB: " + e.Message;
        }
    }

    public void Require() => ServerAvailability.Require("mongodb", UnavailableReason);

    public async ValueTask DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
