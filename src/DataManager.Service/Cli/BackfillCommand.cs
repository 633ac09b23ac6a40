using System.Data.Common;
using System.Globalization;
using DataManager.Auditing;
using DataManager.Backfill;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Hosting;
using DataManager.Storage;

namespace DataManager.Cli;

/// <summary>
/// <c>backfill --symbol S --timeframe T --from ISO --to ISO</c>: one job in the foreground, with a progress bar,
/// through the same client, budget and writer as the service. It runs outside leader election (its records carry
/// term 0): do not point it at a range the leader's jobs are filling. Exit 0 completed; 1 failed or cancelled;
/// 2 bad arguments or configuration; 3 a dependency unreachable.
/// </summary>
public static class BackfillCommand
{
    public const string Usage = "usage: backfill --symbol BTCUSDT --timeframe 1m --from 2026-11-01T00:00:00Z --to 2026-11-02T00:00:00Z";

    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        var configurationErrors = DataManagerConfiguration.Validate(configuration);
        if (configurationErrors.Count > 0)
        {
            foreach (var problem in configurationErrors)
            {
                await errors.WriteLineAsync("Invalid configuration: " + problem);
            }

            return AuditCommand.BadArguments;
        }

        string? symbol = null, timeframeName = null;
        DateTimeOffset? from = null, to = null;
        for (var i = 0; i < args.Length; i += 2)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            var time = DateTimeOffset.MinValue;
            var ok = (args[i], value) switch
            {
                (_, null) => false,
                ("--symbol", _) => (symbol = value.ToUpperInvariant()) is not null,
                ("--timeframe", _) => (timeframeName = value) is not null,
                ("--from" or "--to", _) => DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time),
                _ => false,
            };
            if (!ok)
            {
                await errors.WriteLineAsync($"backfill: bad option {args[i]} {value}");
                await errors.WriteLineAsync(Usage);
                return AuditCommand.BadArguments;
            }

            if (args[i] == "--from")
            {
                from = time.ToUniversalTime();
            }
            else if (args[i] == "--to")
            {
                to = time.ToUniversalTime();
            }
        }

        var backfillOptions = BindableOptionsServiceCollectionExtensions.BindNow<BackfillOptions>(configuration);
        if (!SymbolName.IsValid(symbol) || !Timeframe.TryParse(timeframeName, out var timeframe) || from is null || to is null || from >= to || to - from > backfillOptions.MaxJobRange)
        {
            await errors.WriteLineAsync("backfill: needs a symbol (^[A-Z0-9]{2,20}$), a timeframe from the list, and --from before --to within " + backfillOptions.MaxJobRange.TotalDays + " days");
            await errors.WriteLineAsync(Usage);
            return AuditCommand.BadArguments;
        }

        var services = new ServiceCollection()
            .AddSingleton(configuration)
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            .AddDataManagerOptions()
            .AddDataManagerStore(BindableOptionsServiceCollectionExtensions.BindNow<StoreOptions>(configuration))
            .AddCandleDatabase(BindableOptionsServiceCollectionExtensions.BindNow<CandleDatabaseOptions>(configuration))
            .AddBinanceClient(backfillOptions)
            .AddSingleton<SeriesAuditor>();
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
            job = BackfillJobs.New(new SeriesKey(symbol!, timeframe), from.Value, to.Value, "manual", DateTimeOffset.UtcNow);
            await provider.GetRequiredService<IBackfillJobStore>().CreateAsync(job, cancellationToken);
        }
        catch (Exception e) when (e is DbException or TimeoutException or MongoDB.Driver.MongoException)
        {
            await errors.WriteLineAsync($"backfill: a dependency is unreachable: {e.Message}");
            return AuditCommand.Unreachable;
        }

        await output.WriteLineAsync($"backfill job {job.Id}: {symbol} {timeframe.Name} {from:O} .. {to:O}, {job.ExpectedCandles} candles expected");
        var bar = new Progress(errors, job.ExpectedCandles);
        var result = await provider.GetRequiredService<BackfillRunner>().RunJobAsync(job, 0, cancellationToken, bar);
        bar.Finish();
        await output.WriteLineAsync($"{result.State.ToString().ToLowerInvariant()}: {result.WrittenCandles} written of {result.FetchedCandles} fetched; "
            + (result.Verification ?? result.LastError ?? ""));
        return result.State == BackfillJobState.Completed ? 0
            : result.LastError is { } error && (error.Contains("No connection", StringComparison.Ordinal) || error.Contains("refused", StringComparison.OrdinalIgnoreCase)) ? AuditCommand.Unreachable
            : 1;
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
