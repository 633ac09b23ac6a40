using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;

namespace DataManager.Testing;

/// <summary>
/// An ephemeral nats-server on a loopback port it picks itself (<c>-p -1</c>, read back from its ports file);
/// can be stopped and started again on that same port, so clients reconnect to the address they know.
/// </summary>
public sealed class LocalNats : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _binary;
    private readonly string[] _arguments;
    private readonly string _directory = LocalServers.TempDirectory("dm-nats");
    private LocalProcess? _process;

    private LocalNats(string binary, string[] arguments)
    {
        _binary = binary;
        _arguments = arguments;
    }

    /// <summary>The port chosen at the first start; 0 before.</summary>
    public int Port { get; private set; }

    /// <summary>The monitoring port (<c>/subsz</c>), likewise chosen by the server at the first start.</summary>
    public int MonitoringPort { get; private set; }

    public string Url => $"nats://127.0.0.1:{Port}";

    public static bool IsInstalled => LocalServers.FindBinary("nats-server") is not null;

    /// <param name="arguments">Extra nats-server options, e.g. <c>--user u --pass p</c> or <c>--auth token</c>.</param>
    public static async Task<LocalNats> StartAsync(params string[] arguments)
    {
        var server = new LocalNats(LocalServers.FindBinary("nats-server") ?? throw new InvalidOperationException("nats-server is not installed"), arguments);
        try
        {
            await server.StartAgainAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server: on a port of its own choosing the first time, on that same port afterwards.</summary>
    public async Task StartAgainAsync()
    {
        var port = Port == 0 ? "-1" : Port.ToString(CultureInfo.InvariantCulture);
        var monitoring = MonitoringPort == 0 ? "-1" : MonitoringPort.ToString(CultureInfo.InvariantCulture);
        var process = LocalProcess.Start(_binary, ["-a", "127.0.0.1", "-p", port, "-m", monitoring, "--ports_file_dir", _directory, .. _arguments]);
        _process = process;
        var portsFile = Path.Combine(_directory, $"nats-server_{process.Id.ToString(CultureInfo.InvariantCulture)}.ports");
        string? Exited() => process.HasExited ? "nats-server exited: " + process.Output : null;
        var chosen = (Client: 0, Monitoring: 0);
        await Eventually.UntilAsync(
            $"nats-server writes its ports file {portsFile}",
            async token => File.Exists(portsFile) && (chosen = PortsIn(await File.ReadAllTextAsync(portsFile, token))).Client > 0,
            StartTimeout, abandonIf: Exited);
        (Port, MonitoringPort) = chosen;
        await Eventually.UntilAsync($"nats-server accepts connections on port {Port}", async token =>
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, token);
            return true;
        }, StartTimeout, abandonIf: Exited);
    }

    /// <summary>The ports in a ports file: <c>{"nats":["nats://127.0.0.1:46165"],"monitoring":["http://127.0.0.1:41251"]}</c>.</summary>
    private static (int Client, int Monitoring) PortsIn(string portsFile)
    {
        using var json = JsonDocument.Parse(portsFile);
        return (new Uri(json.RootElement.GetProperty("nats")[0].GetString()!).Port, new Uri(json.RootElement.GetProperty("monitoring")[0].GetString()!).Port);
    }

    /// <summary>True once some client subscribes to a subject matching <paramref name="subject"/> (the server's own view).</summary>
    public async Task<bool> HasSubscriberAsync(string subject, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{MonitoringPort}") };
        using var json = JsonDocument.Parse(await http.GetStringAsync($"/subsz?subs=1&test={Uri.EscapeDataString(subject)}", cancellationToken));
        return json.RootElement.TryGetProperty("subscriptions_list", out var list) && list.GetArrayLength() > 0;
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
        LocalServers.DeleteDirectory(_directory);
    }
}
