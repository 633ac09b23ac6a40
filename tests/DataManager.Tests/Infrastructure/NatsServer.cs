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
    private LocalNats? _local;
    private IContainer? _container;

    public string? UnavailableReason { get; private set; }

    public string Url { get; private set; } = "";

    /// <summary>True when this instance runs the server itself and can stop and restart it.</summary>
    public bool CanRestart => _local is not null;

    public async ValueTask InitializeAsync()
    {
        try
        {
            if (Environment.GetEnvironmentVariable("NATS_TEST_URL") is { Length: > 0 } url)
            {
                Url = url;
            }
            else if (LocalNats.IsInstalled)
            {
                _local = await LocalNats.StartAsync();
                Url = _local.Url;
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

    /// <summary>
    /// Waits until the server sees a subscriber for <paramref name="subject"/>: a client's subscription follows its
    /// connection, and messages published before it are lost. A server this run did not start cannot be asked:
    /// there a short pause stands in.
    /// </summary>
    public async Task WaitForSubscriberAsync(string subject)
    {
        if (_local is null)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken);
            return;
        }

        await Eventually.UntilAsync($"nats-server has a subscriber for {subject}", token => _local.HasSubscriberAsync(subject, token),
            TimeSpan.FromMinutes(1), cancellationToken: TestContext.Current.CancellationToken);
    }

    /// <summary>Starts the local server again on the same port.</summary>
    public Task StartAsync() => _local!.StartAgainAsync();

    public Task StopAsync() => _local!.StopAsync();

    public async ValueTask DisposeAsync()
    {
        if (_local is not null)
        {
            await _local.DisposeAsync();
        }

        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
