using DataManager.Testing;

namespace DataManager.Tests.Infrastructure;

/// <summary>
/// How a test reacts to a server that could not be found or started: skip with the reason, or fail when
/// <c>DATAMANAGER_REQUIRE_SERVERS</c> names it (CI sets <c>mysql,nats</c>: a green run must have run them).
/// </summary>
public static class ServerAvailability
{
    public static void Require(string server, string? unavailableReason)
    {
        if (unavailableReason is null)
        {
            return;
        }

        var required = (Environment.GetEnvironmentVariable("DATAMANAGER_REQUIRE_SERVERS") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (required.Contains(server, StringComparer.OrdinalIgnoreCase))
        {
            Assert.Fail($"{server} is required (DATAMANAGER_REQUIRE_SERVERS) but unavailable: {unavailableReason}");
        }

        Assert.Skip($"{server} unavailable: {unavailableReason}");
    }

    /// <summary>Testcontainers is only tried where a Docker daemon can answer.</summary>
    public static bool DockerMayAnswer() =>
        Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } || File.Exists("/var/run/docker.sock");

    public static string? FindBinary(string name) => LocalServers.FindBinary(name);

    public static int FreePort() => LocalServers.FreePort();

    public static string TempDirectory(string prefix) => LocalServers.TempDirectory(prefix);
}
