using System.Globalization;
using System.Net.Sockets;

namespace DataManager.Testing;

/// <summary>An ephemeral nats-server on a free loopback port; can be stopped and started again on the same port.</summary>
public sealed class LocalNats : IAsyncDisposable
{
    private readonly string _binary;
    private readonly string[] _arguments;
    private LocalProcess? _process;

    private LocalNats(string binary, int port, string[] arguments)
    {
        _binary = binary;
        Port = port;
        _arguments = arguments;
    }

    public int Port { get; }

    public string Url => $"nats://127.0.0.1:{Port}";

    public static bool IsInstalled => LocalServers.FindBinary("nats-server") is not null;

    /// <param name="arguments">Extra nats-server options, e.g. <c>--user u --pass p</c> or <c>--auth token</c>.</param>
    public static async Task<LocalNats> StartAsync(params string[] arguments)
    {
        var server = new LocalNats(LocalServers.FindBinary("nats-server") ?? throw new InvalidOperationException("nats-server is not installed"), LocalServers.FreePort(), arguments);
        await server.StartAgainAsync();
        return server;
    }

    public async Task StartAgainAsync()
    {
        _process = LocalProcess.Start(_binary, ["-a", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), .. _arguments]);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
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

    public ValueTask DisposeAsync() => new(StopAsync());
}
