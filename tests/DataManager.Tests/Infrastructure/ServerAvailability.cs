using DataManager.Testing;

namespace DataManager.Tests.Infrastructure;

/// <summary>
/// How a test reacts to a server that could not be found or started: skip with the reason, or fail when
/// <c>DATAMANAGER_REQUIRE_SERVERS</c> names it (CI sets <c>mysql,nats</c>: a green run must have run them).
/// </summary>
public static class ServerAvailability
{
    /// <summary>The trait that keeps a test out of <c>tests/run.sh --fast</c>: <c>[Trait("Category", "Server")]</c> on its class.</summary>
    public const string Category = "Category";

    public const string Server = "Server";

    public static void Require(string server, string? unavailableReason)
    {
        RequireServerCategory();
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

    /// <summary>
    /// Fails a test that starts a server, a service host or a service process without the Server category, so the
    /// fast loop can never start one by mistake: every such start passes through here.
    /// </summary>
    public static void RequireServerCategory()
    {
        if (TestContext.Current.Test is not { } test)
        {
            return; // a fixture starting before any test
        }

        if (!test.Traits.TryGetValue(Category, out var values) || !values.Contains(Server))
        {
            Assert.Fail($"{test.TestDisplayName} starts a server, host or process: mark its class [Trait(\"{Category}\", \"{Server}\")] (tests/run.sh --fast leaves those out)");
        }
    }

    /// <summary>Testcontainers is only tried where a Docker daemon can answer.</summary>
    public static bool DockerMayAnswer() =>
        Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } || File.Exists("/var/run/docker.sock");

    public static string? FindBinary(string name) => LocalServers.FindBinary(name);

    public static int FreePort() => LocalServers.FreePort();

    public static string TempDirectory(string prefix) => LocalServers.TempDirectory(prefix);
}
