using System.Globalization;
using Microsoft.Extensions.Options;

namespace DataManager.Leadership;

/// <summary>
/// Work that must run on one replica only (audit, analytics, backfill execution). It registers here instead
/// of being a BackgroundService; <see cref="LeaderLoopHost"/> runs one iteration at a time while this
/// replica leads, so tests can drive <see cref="RunOnceAsync"/> directly.
/// </summary>
public interface ILeaderLoop
{
    string Name { get; }

    /// <summary>Wait after becoming leader before the first iteration.</summary>
    TimeSpan InitialDelay { get; }

    /// <summary>Wait between iterations.</summary>
    TimeSpan Interval { get; }

    /// <summary>One iteration. Records it writes carry <see cref="LeadershipTicket.Term"/>; the token ends with leadership or shutdown.</summary>
    Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken);
}

/// <summary>
/// Runs every <see cref="ILeaderLoop"/> while this replica leads, and stops each the moment leadership ends.
/// No loop starts before the store is initialised (with election off this replica leads from its first instant).
/// </summary>
public sealed partial class LeaderLoopHost(IEnumerable<ILeaderLoop> loops, LeaderElector elector, Storage.StoreReadiness storeReadiness, TimeProvider time, ILogger<LeaderLoopHost> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await storeReadiness.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        await Task.WhenAll(loops.Select(loop => RunLoopAsync(loop, stoppingToken)));
    }

    private async Task RunLoopAsync(ILeaderLoop loop, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            LeadershipTicket ticket;
            try
            {
                ticket = await elector.WaitForLeadershipAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, ticket.Token);
            var leadership = ticket with { Token = linked.Token };
            try
            {
                await Task.Delay(loop.InitialDelay, time, linked.Token);
                while (elector.IsFreshLeader(ticket.Term))
                {
                    try
                    {
                        await loop.RunOnceAsync(leadership, linked.Token);
                    }
                    catch (Exception e) when (!linked.IsCancellationRequested)
                    {
                        // One failed iteration does not end the loop; the next one runs on schedule.
                        LogIterationFailed(logger, e, loop.Name, ticket.Term);
                    }

                    await Task.Delay(loop.Interval, time, linked.Token);
                }
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
            }

            LogLoopStopped(logger, loop.Name, ticket.Term);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Leader-only loop {Loop} failed an iteration under term {Term}")]
    private static partial void LogIterationFailed(ILogger logger, Exception exception, string loop, long term);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Leader-only loop {Loop} stopped (term {Term} ended)")]
    private static partial void LogLoopStopped(ILogger logger, string loop, long term);
}

/// <summary>
/// Diagnostics for proving leadership safety (the chaos test): with <c>LEADER_WORK_LOG</c> set, the leader
/// appends <c>pod term unix-ms</c> per unit of leader-only work. The time is taken before the freshness
/// check, so a unit's recorded time always lies inside the lease it ran under.
/// </summary>
public sealed class LeaderWorkRecorder(LeaderElector elector, TimeProvider time, IOptions<LeaderWorkRecorderOptions> options) : ILeaderLoop
{
    public string Name => "leader-work-recorder";

    public TimeSpan InitialDelay => TimeSpan.Zero;

    public TimeSpan Interval => options.Value.Interval;

    public async Task RunOnceAsync(LeadershipTicket leadership, CancellationToken cancellationToken)
    {
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (!elector.IsFreshLeader(leadership.Term))
        {
            return;
        }

        var line = string.Create(CultureInfo.InvariantCulture, $"{elector.PodId} {leadership.Term} {at}\n");
        await File.AppendAllTextAsync(options.Value.Path!, line, cancellationToken);
    }
}

public sealed class LeaderWorkRecorderOptions : Configuration.BindableOptions
{
    public string? Path { get; set; }

    public TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(50);

    public override void Bind(Configuration.SettingsReader reader)
    {
        Path = reader.Raw("LEADER_WORK_LOG");
        Interval = reader.Seconds("LEADER_WORK_LOG_INTERVAL", Interval, 0.001, 60);
    }
}
