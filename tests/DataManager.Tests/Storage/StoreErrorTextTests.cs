using DataManager.Storage;
using DataManager.Storage.Mongo;
using DataManager.Testing;
using MongoDB.Bson;
using MongoDB.Driver;

namespace DataManager.Tests.Storage;

/// <summary>Store failures reach operators as one short line, whatever the driver put in its message.</summary>
public sealed class StoreErrorTextTests
{
    [Fact]
    public void The_mongo_driver_server_selection_timeout_is_one_line_naming_server_wait_and_cause()
    {
        var text = StoreErrorText.OneLine(new TimeoutException(DriverServerSelectionTimeout));
        Assert.Equal("MongoDB 127.0.0.1:1 did not answer within 30 s (server selection timeout: Connection refused)", text);
    }

    [Fact]
    public async Task The_drivers_own_timeout_against_a_closed_port_becomes_one_line()
    {
        var port = LocalServers.FreePort();
        var client = new MongoClient(MongoClientSettingsFactory.FromUrl($"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"));
        var error = await Assert.ThrowsAsync<TimeoutException>(() =>
            client.GetDatabase("admin").RunCommandAsync<BsonDocument>(new BsonDocument("ping", 1), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains('\n', error.Message); // the driver's own text: a multi-line cluster dump
        Assert.Equal($"MongoDB 127.0.0.1:{port} did not answer within 0.3 s (server selection timeout: Connection refused)", StoreErrorText.OneLine(error));
    }

    [Fact]
    public void Other_errors_keep_their_first_line_and_innermost_cause_cut_to_a_bounded_length()
    {
        var wrapped = new InvalidOperationException("An exception occurred while opening a connection to the server.", new System.Net.Sockets.SocketException(111));
        Assert.Equal($"An exception occurred while opening a connection to the server: {new System.Net.Sockets.SocketException(111).Message}", StoreErrorText.OneLine(wrapped));
        Assert.Equal("first line", StoreErrorText.OneLine(new InvalidOperationException("first line\n   at Somewhere()\n   at Elsewhere()")));
        var cut = StoreErrorText.OneLine(new InvalidOperationException(new string('x', 5_000)));
        Assert.Equal(300, cut.Length);
        Assert.EndsWith("…", cut, StringComparison.Ordinal);
    }

    /// <summary>MongoDB.Driver 3.x's message for a server that refuses connections (as `report` printed it), abridged.</summary>
    private const string DriverServerSelectionTimeout =
        "A timeout occurred after 29999ms selecting a server using CompositeServerSelector{ Selectors = ReadPreferenceServerSelector{ ReadPreference = { Mode : Primary } }, "
        + "LatencyLimitingServerSelector{ AllowedLatencyRange = 00:00:00.0150000 }, OperationsCountServerSelector }. Client view of cluster state is "
        + "{ ClusterId : \"1\", Type : \"Unknown\", State : \"Disconnected\", Servers : [{ ServerId: \"{ ClusterId : 1, EndPoint : \"Unspecified/127.0.0.1:1\" }\", "
        + "EndPoint: \"Unspecified/127.0.0.1:1\", ReasonChanged: \"Heartbeat\", State: \"Disconnected\", ServerVersion: , TopologyVersion: , Type: \"Unknown\", "
        + "HeartbeatException: \"MongoDB.Driver.MongoConnectionException: An exception occurred while opening a connection to the server.\n"
        + " ---> System.Net.Sockets.SocketException (111): Connection refused\n"
        + "   at MongoDB.Driver.Core.Connections.TcpStreamFactory.Connect(Socket socket, EndPoint endPoint, CancellationToken cancellationToken)\n"
        + "   at MongoDB.Driver.Core.Connections.TcpStreamFactory.CreateStream(EndPoint endPoint, CancellationToken cancellationToken)\n"
        + "   at MongoDB.Driver.Core.Connections.BinaryConnection.OpenHelper(CancellationToken cancellationToken)\n"
        + "   --- End of inner exception stack trace ---\n"
        + "   at MongoDB.Driver.Core.Connections.BinaryConnection.OpenHelper(CancellationToken cancellationToken)\n"
        + "   at MongoDB.Driver.Core.Servers.ServerMonitor.InitializeConnection(CancellationToken cancellationToken)\n"
        + "   at MongoDB.Driver.Core.Servers.ServerMonitor.Heartbeat(CancellationToken cancellationToken)\", LastHeartbeatTimestamp: \"2026-11-26T16:40:01.1234567Z\", "
        + "LastUpdateTimestamp: \"2026-11-26T16:40:01.1234567Z\" }] }.";
}
