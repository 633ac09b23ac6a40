using DataManager.Testing;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;

namespace DataManager.Tests.Infrastructure;

/// <summary>
/// nats-server for tests: <c>NATS_TEST_URL</c>, else a local <c>nats-server</c> on a free port (one per
/// instance, so a test can stop and restart its own), else Testcontainers when Docker answers, else unavailable.
/// </summary>
public sealed class NatsServer : IAsyncLifetime
{
    private LocalProcess? _process;
    private IContainer? _container;
    private string? _binary;
    private int _port;

    public string? UnavailableReason { get; private set; }

    public string Url { get; private set; } = "";

    /// <summary>True when this instance runs the server itself and can stop and restart it.</summary>
    public bool CanRestart => _binary is not null;

    public async ValueTask InitializeAsync()
    {
        try
        {
            if (Environment.GetEnvironmentVariable("NATS_TEST_URL") is { Length: > 0 } url)
            {
                Url = url;
            }
            else if (ServerAvailability.FindBinary("nats-server") is { } binary)
            {
                _binary = binary;
                _port = ServerAvailability.FreePort();
                await StartAsync();
            }
            else if (ServerAvailability.DockerMayAnswer())
            {
                _container = new ContainerBuilder("nats:2.10").WithPortBinding(4222, true)
                    .WithWaitStrategy(Wait.ForUnixContainer().UntilInternalTcpPortIsAvailable(4222)).Build();
                await _container.StartAsync();
                Url = $"nats://{_container.Hostname}:{_container.GetMappedPublicPort(4222)}";
            }
            else
            {
                UnavailableReason = "no NATS_TEST_URL, no nats-server binary (apt-get install nats-server), no Docker";
            }
        }
        catch (Exception e)
        {
            UnavailableReason = "could not start nats-server: " + e.Message;
        }
    }

    public void Require() => ServerAvailability.Require("nats", UnavailableReason);

    /// <summary>Starts (or restarts) the local server on the same port.</summary>
    public async Task StartAsync()
    {
        _process = LocalProcess.Start(_binary!, ["-a", "127.0.0.1", "-p", _port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Url = $"nats://127.0.0.1:{_port}";
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync("127.0.0.1", _port);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
