using System.Net;
using System.Net.Sockets;

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

    public static string? FindBinary(string name, params string[] extraDirectories)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return path.Concat(extraDirectories).Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string TempDirectory(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
