using System.Globalization;
using System.Net.Http.Json;
using System.Threading.Channels;
using DataManager.Storage;
using DataManager.Testing;
using DataManager.Tracking;
using NATS.Client.Core;

namespace DataManager.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/DataManager.Benchmarks -- tracker-load [--rates 100000,200000,300000] [--seconds 60]</c>:
/// per rate, a fresh service process tracks the feed from a local nats-server while the feed generator (another
/// process) publishes for the given time and a plain subscriber in this process counts the same subject. Reports
/// what each received, what the service dropped, the service's CPU and peak RSS (private and file-backed), and its
/// resident memory by mapping group idle and at the private peak (<see cref="MemoryMap"/>). The service
/// runs with the image's runtime settings; <c>--env NAME=VALUE</c> (repeatable) overrides or adds one, and
/// <c>--service PATH</c> runs another build's DataManager.Service.dll (before and after, same harness).
/// </summary>
public static class TrackerLoadRun
{
    public static async Task<int> RunAsync(string[] args)
    {
        var rates = Arg(args, "--rates", "100000,200000,300000").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var seconds = double.Parse(Arg(args, "--seconds", "60"), CultureInfo.InvariantCulture);
        var service = args.SkipWhile(a => a != "--service").Skip(1).FirstOrDefault() ?? ServiceDll();
        Console.WriteLine($"service {service}; load average {LoadAverage()}");
        await using var nats = await LocalNats.StartAsync();
        var rows = new List<string>();
        var maps = new List<string>();
        foreach (var rate in rates)
        {
            var subject = $"load.{rate}";
            var port = LocalServers.FreePort();
            var dataDir = LocalServers.TempDirectory("dm-tracker-load");
            await using var tracker = LocalProcess.Start("dotnet", [service], new Dictionary<string, string?>
            {
                ["NATS_URL"] = nats.Url,
                ["NATS_CONSUMER_SUBJECT"] = subject,
                ["NATS_QUEUE_GROUP"] = "",
                ["API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["DATA_DIR"] = dataDir,
                ["ENABLE_AUDITOR"] = "false",
                ["ENABLE_LEADER_ELECTION"] = "false",
                ["LOG_LEVEL"] = "warning",
            }.Concat(ProcessSample.ImageRuntime).Concat(Extra(args)).GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Last().Value));
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitTrackerConnectedAsync(http);

            await using var plain = new NatsConnection(new NatsOpts { Url = nats.Url, Name = "plain-subscriber" });
            long plainReceived = 0, plainDropped = 0;
            plain.MessageDropped += (_, _) =>
            {
                Interlocked.Increment(ref plainDropped);
                return ValueTask.CompletedTask;
            };
            await using var subscription = await plain.SubscribeCoreAsync(subject, null, NatsRawSerializer<NatsMemoryOwner<byte>>.Default,
                new NatsSubOpts { ChannelOpts = new NatsSubChannelOpts { Capacity = 65_536, FullMode = BoundedChannelFullMode.DropNewest } });
            using var stopPlain = new CancellationTokenSource();
            var plainLoop = Task.Run(async () =>
            {
                try
                {
                    await foreach (var message in subscription.Msgs.ReadAllAsync(stopPlain.Token))
                    {
                        message.Data.Dispose();
                        Interlocked.Increment(ref plainReceived);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });
            await Task.Delay(500);

            var idle = new ProcessSample().WithMemoryMap();
            idle.Take(tracker.Id);
            var cpuBefore = CpuSeconds(tracker.Id);
            await using var feed = LocalProcess.Start("dotnet", [service, "feed", "--nats", nats.Url, "--subject", subject,
                "--rate", rate.ToString(CultureInfo.InvariantCulture), "--duration", seconds.ToString(CultureInfo.InvariantCulture)]);
            var feedDone = feed.WaitForExitAsync(TimeSpan.FromSeconds(seconds * 3 + 60));
            var load = new ProcessSample().WithMemoryMap();
            await load.WatchAsync(tracker.Id, feedDone);
            await feedDone;
            var published = feed.Output.Trim();
            var cpu = CpuSeconds(tracker.Id) - cpuBefore;

            TrackerResponse? state = null;
            long last = -1;
            for (var i = 0; i < 50; i++) // until the counts stop moving
            {
                state = await http.GetFromJsonAsync<TrackerResponse>("/api/tracker", StoreJson.Options);
                if (state!.Totals.Received == last)
                {
                    break;
                }

                last = state.Totals.Received;
                await Task.Delay(200);
            }

            await stopPlain.CancelAsync();
            await plainLoop;
            var sent = long.Parse(published.Split(' ')[1], CultureInfo.InvariantCulture);
            var achieved = double.Parse(published.Split(": ")[^1].Split(' ')[0], CultureInfo.InvariantCulture);
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {rate:N0}/s for {seconds:F0} s | {sent:N0} at {achieved:N0}/s | {state!.Totals.Received:N0} | {state.Totals.Dropped:N0} | {Interlocked.Read(ref plainReceived):N0} ({Interlocked.Read(ref plainDropped):N0} dropped) | {cpu / seconds * 100:F0} % of a core | {load.Memory} | {idle.Memory} |"));
            Console.WriteLine(rows[^1]);
            maps.Add($"{rate:N0}/s: resident MB by what holds it (/proc/PID/smaps), idle before the feed and at the private peak under it");
            maps.Add("| mapping group | idle | at the peak | change |");
            maps.Add("|---|---|---|---|");
            maps.AddRange(MemoryMap.Compare(idle.MapAtPeak!, load.MapAtPeak!));
            maps.Add("");
            Console.WriteLine($"load average {LoadAverage()}");
            LocalServers.DeleteDirectory(dataDir);
        }

        Console.WriteLine();
        Console.WriteLine("| target rate | published (achieved rate) | service received | service dropped | plain subscriber received | service CPU | service peak RSS (peak private, peak file-backed) | idle before the feed |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine();
        maps.ForEach(Console.WriteLine);
        return 0;
    }

    /// <summary>--env NAME=VALUE (repeatable): extra environment for the service, e.g. TRACKER_PENDING_MESSAGES.</summary>
    internal static IEnumerable<KeyValuePair<string, string?>> Extra(string[] args) =>
        args.Select((a, i) => (a, i)).Where(p => p.a == "--env" && p.i + 1 < args.Length)
            .Select(p => new KeyValuePair<string, string?>(args[p.i + 1].Split('=')[0], args[p.i + 1].Split('=', 2)[1]));

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string Arg(string[] args, string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

    private static string ServiceDll()
    {
        var here = Path.Combine(AppContext.BaseDirectory, "DataManager.Service.dll");
        return File.Exists(Path.Combine(AppContext.BaseDirectory, "DataManager.Service.runtimeconfig.json")) ? here
            : throw new FileNotFoundException("DataManager.Service.runtimeconfig.json next to the benchmarks: build them with dotnet build -c Release");
    }

    private static async Task WaitTrackerConnectedAsync(HttpClient http)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                if ((await http.GetFromJsonAsync<TrackerResponse>("/api/tracker", StoreJson.Options))?.Connected == true)
                {
                    await Task.Delay(300); // the subscription follows the connection
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the service never connected to NATS");
    }

    /// <summary>User + system CPU seconds of a process, from /proc.</summary>
    private static double CpuSeconds(int pid)
    {
        var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}
