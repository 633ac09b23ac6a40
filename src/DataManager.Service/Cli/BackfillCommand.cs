using System.CommandLine;
using System.Globalization;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Hosting;
using DataManager.Storage;

namespace DataManager.Cli;

/// <summary>
/// <c>backfill --symbol S --timeframe T --from ISO --to ISO</c>: one job in the foreground, with a progress bar,
/// through the same client, budget and writer as the service; its last line states the ranges Binance confirmed
/// empty. It runs outside leader election (its records carry term 0, owner and createdBy <c>cli@POD</c>): do not
/// point it at a range the leader's jobs are filling. While it runs, its heartbeat keeps the leader off its job;
/// if it dies the leader takes the job over once the heartbeat is <see cref="BackfillRunner.TakeoverAfter"/> old.
/// Exit 0 completed; 1 failed, cancelled or taken over; 2 bad arguments or configuration; 3 a dependency unreachable.
/// </summary>
public static class BackfillCommand
{
    public static Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter errors, CancellationToken cancellationToken) =>
        Verbs.RunVerbAsync("backfill", args, new VerbContext(configuration, output, errors, TimeProvider.System), cancellationToken);

    public static Command Create(VerbContext context)
    {
        var symbol = CliOptions.Checked<string>("--symbol", "The symbol, e.g. BTCUSDT (either case)", CliOptions.TrySymbol, CliOptions.SymbolExpected, required: true);
        var timeframe = CliOptions.Checked<Timeframe>("--timeframe", "The interval: " + CliOptions.TimeframeNames, CliOptions.TryTimeframe, "one of " + CliOptions.TimeframeNames, required: true);
        var from = CliOptions.Checked<DateTimeOffset?>("--from", "First open time to fill, ISO 8601 with Z or an offset", CliOptions.TryTime, IsoTime.Expected, required: true);
        var to = CliOptions.Checked<DateTimeOffset?>("--to", "End of the range (exclusive), ISO 8601 with Z or an offset", CliOptions.TryTime, IsoTime.Expected, required: true);
        var command = new Command("backfill", "Fill one range from Binance, in the foreground, with a progress bar on standard error, outside leader election "
            + "(do not aim it at a range the leader is filling). Exit 0 completed; 1 failed, cancelled or taken over; 2 bad arguments or configuration; 3 a dependency unreachable.")
        {
            symbol, timeframe, from, to,
        };
        command.SetAction((parsed, cancellationToken) => RunAsync(
            new SeriesKey(parsed.GetValue(symbol)!, parsed.GetValue(timeframe)!), parsed.GetValue(from)!.Value, parsed.GetValue(to)!.Value, context, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(SeriesKey series, DateTimeOffset from, DateTimeOffset to, VerbContext context, CancellationToken cancellationToken)
    {
        var (configuration, output, errors, _) = context;
        if (await Verbs.BindSettingsAsync(context, usesStore: true, usesCandles: true) is not { } settings)
        {
            return AuditCommand.BadArguments;
        }

        var backfillOptions = settings.Backfill;
        if (from >= to)
        {
            await errors.WriteLineAsync($"backfill: --to ({CliOptions.Iso(to)}) must be after --from ({CliOptions.Iso(from)})");
            return AuditCommand.BadArguments;
        }

        if (to - from > backfillOptions.MaxJobRange)
        {
            await errors.WriteLineAsync($"backfill: --from .. --to spans {(to - from).TotalDays:0.##} days, more than BACKFILL_MAX_RANGE_DAYS ({backfillOptions.MaxJobRange.TotalDays:0})");
            return AuditCommand.BadArguments;
        }

        // Its own owner name, never the service's POD_NAME: a leader under that name takes over its own pod's jobs at once.
        settings.Service.PodId = Owner(settings.Service.PodId);
        var incarnation = settings.Service.Incarnation;
        var transport = new TransportOutcome();
        var services = settings.AddTo(new ServiceCollection())
            .AddSingleton(configuration)
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            .AddMetricsRegistry() // a registry of its own, never served: the verb reports through its output
            .AddDataManagerStore(settings.Store)
            .AddCandleDatabase(settings.Candles)
            .AddBinanceClient(backfillOptions)
            .AddSingleton<SeriesAuditor>();
        services.AddHttpClient<BinanceClient>().AddHttpMessageHandler(() => new RecordingHandler(transport));
        await using var provider = services.BuildServiceProvider();
        BackfillJob job;
        try
        {
            await provider.GetRequiredService<IStoreLifecycle>().InitializeAsync(cancellationToken);
            if (provider.GetService<EmbeddedCandleDatabase>() is { } embedded)
            {
                await embedded.EnsureSeededAsync(cancellationToken);
            }

            await provider.GetRequiredService<ICandleSource>().PingAsync(cancellationToken);
            var now = DateTimeOffset.UtcNow;
            // Created running and owned, so a leader polling meanwhile never mistakes it for a pending job of its own.
            job = BackfillJobs.New(series, from, to, BackfillTriggers.Manual, now) with
            {
                CreatedBy = settings.Service.PodId,
                State = BackfillJobState.Running,
                Owner = settings.Service.PodId,
                OwnerIncarnation = incarnation,
                StartedAt = now,
                Attempts = 1,
            };
            await provider.GetRequiredService<IBackfillJobStore>().CreateAsync(job, cancellationToken);
        }
        catch (Exception e) when (DependencyFailure.IsUnreachable(e))
        {
            await errors.WriteLineAsync($"backfill: a dependency is unreachable ({e.GetType().Name}): {StoreErrorText.OneLine(e)}");
            return AuditCommand.Unreachable;
        }

        await output.WriteLineAsync($"backfill job {job.Id}: {series.Symbol} {series.Timeframe.Name} {CliOptions.Iso(from)} .. {CliOptions.Iso(to)}, {job.ExpectedCandles} candles expected");
        var bar = new Progress(errors, job.ExpectedCandles);
        var result = await provider.GetRequiredService<BackfillRunner>().RunJobAsync(job, 0, cancellationToken, bar);
        bar.Finish();
        if (result.OwnerIncarnation != incarnation || result.State == BackfillJobState.Cancelled)
        {
            var lost = LostLine(result);
            await output.WriteLineAsync(lost);
            await errors.WriteLineAsync($"backfill: job {job.Id} {lost}");
            return 1;
        }

        var unreachable = result.State == BackfillJobState.Failed && transport.LastFailure is { } failure && DependencyFailure.IsUnreachable(failure);
        // The runner's own error may already say so ("Binance unreachable after retries: …"): say it once.
        var sayUnreachable = unreachable && !(result.LastError ?? "").StartsWith("Binance unreachable", StringComparison.Ordinal);
        var outcome = result.Verification ?? (sayUnreachable ? "Binance unreachable: " : "") + result.LastError;
        await output.WriteLineAsync($"{result.State.ToString().ToLowerInvariant()}: {result.WrittenCandles} written of {result.FetchedCandles} fetched; "
            + (string.IsNullOrEmpty(outcome) ? "" : outcome + "; ") + ConfirmedEmpty(result.ConfirmedEmpty, series.Timeframe));
        return result.State == BackfillJobState.Completed ? 0 : unreachable ? AuditCommand.Unreachable : 1;
    }

    /// <summary>The owner (and createdBy) of the verb's jobs: <c>cli@</c> and the POD_NAME, HOSTNAME or machine it runs on.</summary>
    internal static string Owner(string podId) => "cli@" + podId;

    /// <summary>The final line when the job stopped being this run's: cancelled, or else taken over by another process.</summary>
    internal static string LostLine(BackfillJob job)
    {
        var counts = $"{job.WrittenCandles} written of {job.FetchedCandles} fetched so far";
        if (job.State == BackfillJobState.Cancelled)
        {
            return $"cancelled: {counts}; the rest of the range was not filled";
        }

        var where = job.Cursor is { } cursor ? $" at {CliOptions.Iso(cursor)}" : "";
        return $"taken over by {job.Owner ?? "another process"} (term {job.Term}){where}: {counts}; it is now {job.State.ToString().ToLowerInvariant()} there "
            + $"(this run's heartbeat had lapsed); follow it with GET /backfill/jobs/{job.Id}";
    }

    /// <summary>The ranges Binance answered empty, merged where adjacent: what later audits will report as <c>sourceEmpty</c>.</summary>
    internal static string ConfirmedEmpty(IReadOnlyList<EmptyRange> ranges, Timeframe timeframe)
    {
        var merged = new List<EmptyRange>();
        foreach (var range in ranges.OrderBy(r => r.From))
        {
            if (merged.Count > 0 && merged[^1].To >= range.From)
            {
                merged[^1] = merged[^1] with { To = range.To > merged[^1].To ? range.To : merged[^1].To };
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged.Count == 0
            ? "confirmed empty: none"
            : "confirmed empty by Binance: " + string.Join(", ", merged.Select(r =>
                $"{CliOptions.Iso(r.From)} .. {CliOptions.Iso(r.To)} ({(long)((r.To - r.From) / timeframe.Interval)} candles)"));
    }

    /// <summary>How the last request to Binance ended: null when it was answered.</summary>
    private sealed class TransportOutcome
    {
        public Exception? LastFailure { get; set; }
    }

    /// <summary>
    /// Innermost on the Binance client: records how each attempt ended, so a failed job can be told apart as
    /// "Binance unreachable" by the exception's type.
    /// </summary>
    private sealed class RecordingHandler(TransportOutcome outcome) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                outcome.LastFailure = null;
                return response;
            }
            catch (HttpRequestException e)
            {
                outcome.LastFailure = e;
                throw;
            }
            catch (OperationCanceledException e)
            {
                // The attempt's own timeout (or the caller's cancel, which never ends a job as failed).
                outcome.LastFailure = new TimeoutException("Binance did not answer", e);
                throw;
            }
        }
    }

    /// <summary>One line on standard error, redrawn in place.</summary>
    private sealed class Progress(TextWriter writer, long expected) : IProgress<BackfillJob>
    {
        public void Report(BackfillJob value)
        {
            var done = expected == 0 ? 1 : Math.Min(1, (double)value.FetchedCandles / expected);
            var filled = (int)(done * 30);
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"\r[{new string('#', filled)}{new string('.', 30 - filled)}] {done * 100:F0}% {value.FetchedCandles:N0}/{expected:N0} fetched, {value.WrittenCandles:N0} written   "));
        }

        public void Finish() => writer.WriteLine();
    }
}
