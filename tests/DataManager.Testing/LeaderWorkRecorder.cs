using System.Globalization;
using System.Runtime.Loader;
using DataManager.Leadership;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

[assembly: HostingStartup(typeof(DataManager.Testing.LeaderWorkRecorderStartup))]

namespace DataManager.Testing
{
    /// <summary>
    /// Diagnostics for proving leadership safety (the chaos test): the leader appends <c>pod term unix-ms</c> to a
    /// file per unit of leader-only work. The time is taken before the freshness check, so a unit's recorded time
    /// always lies inside the lease it ran under.
    /// </summary>
    public sealed class LeaderWorkRecorder(LeaderElector elector, TimeProvider time, string path, TimeSpan interval) : ILeaderLoop
    {
        public string Name => "leader-work-recorder";

        public TimeSpan InitialDelay => TimeSpan.Zero;

        public TimeSpan Interval => interval;

        public async Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken)
        {
            var at = time.GetUtcNow().ToUnixTimeMilliseconds();
            if (!elector.IsFreshLeader(leadership.Term))
            {
                return;
            }

            var line = string.Create(CultureInfo.InvariantCulture, $"{elector.PodId} {leadership.Term} {at}\n");
            await File.AppendAllTextAsync(path, line, cancellationToken);
        }

        /// <summary>
        /// What a service process needs in its environment to run the recorder: the runtime loads this assembly at
        /// start (a startup hook) and ASP.NET Core runs its hosting startup, which adds the loop. The service itself
        /// knows nothing of it.
        /// </summary>
        public static IReadOnlyDictionary<string, string?> Environment(string path, TimeSpan interval) => new Dictionary<string, string?>
        {
            ["DOTNET_STARTUP_HOOKS"] = typeof(LeaderWorkRecorder).Assembly.Location,
            ["ASPNETCORE_HOSTINGSTARTUPASSEMBLIES"] = typeof(LeaderWorkRecorder).Assembly.GetName().Name,
            [PathVariable] = path,
            [IntervalVariable] = interval.TotalSeconds.ToString(CultureInfo.InvariantCulture),
        };

        internal const string PathVariable = "LEADER_WORK_LOG";

        internal const string IntervalVariable = "LEADER_WORK_LOG_INTERVAL";
    }

    /// <summary>Adds the <see cref="LeaderWorkRecorder"/> to a service whose <c>LEADER_WORK_LOG</c> names a file.</summary>
    public sealed class LeaderWorkRecorderStartup : IHostingStartup
    {
        public void Configure(IWebHostBuilder builder) => builder.ConfigureServices((context, services) =>
        {
            if (context.Configuration[LeaderWorkRecorder.PathVariable] is { Length: > 0 } path)
            {
                var interval = TimeSpan.FromSeconds(double.Parse(context.Configuration[LeaderWorkRecorder.IntervalVariable] ?? "0.05", CultureInfo.InvariantCulture));
                services.AddSingleton<ILeaderLoop>(sp => new LeaderWorkRecorder(sp.GetRequiredService<LeaderElector>(), sp.GetRequiredService<TimeProvider>(), path, interval));
            }
        });
    }
}

#pragma warning disable CA1050 // The runtime calls a startup hook by this exact name, outside any namespace.
/// <summary>
/// Run by the runtime before the service's Main when <c>DOTNET_STARTUP_HOOKS</c> names this assembly: it was
/// loaded by path, so a later load by name (the hosting startup) is answered with it.
/// </summary>
public static class StartupHook
#pragma warning restore CA1050
{
    public static void Initialize() =>
        AssemblyLoadContext.Default.Resolving += (_, name) => name.Name == typeof(StartupHook).Assembly.GetName().Name ? typeof(StartupHook).Assembly : null;
}
