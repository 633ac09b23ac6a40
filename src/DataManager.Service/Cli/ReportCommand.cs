using System.CommandLine;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
using DataManager.Hosting;
using DataManager.Incidents;
using DataManager.Reporting;
using DataManager.Storage;

namespace DataManager.Cli;

/// <summary>
/// <c>report [--days 7] [--format markdown|html|json] [--symbols A,B] [--timeframes 1m,1h] [--to ISO]</c>: the
/// quality of each series over the period, read from the store the service writes (its audits and incidents):
/// SLO attainment, error budget left, incidents by severity, the worst hours. Exit 0 reported; 2 bad arguments or
/// configuration; 3 the store unreachable.
/// </summary>
public static class ReportCommand
{
    /// <summary>Audits read per store query while paging through a series' period.</summary>
    private const int Page = 5_000;

    public static Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter errors, TimeProvider time, CancellationToken cancellationToken) =>
        Verbs.RunVerbAsync("report", args, new VerbContext(configuration, output, errors, time), cancellationToken);

    public static Command Create(VerbContext context)
    {
        var days = CliOptions.Checked("--days", "Length of the period in days, ending at --to (default 7; audits older than AUDIT_RETENTION_DAYS are gone)", CliOptions.Number(0, 3_650, minExclusive: true), "a number of days above 0, at most 3650");
        days.DefaultValueFactory = _ => 7;
        var format = CliOptions.Checked("--format", "markdown (the default), html (one self-contained page) or json", CliOptions.OneOf(QualityReportFormats.Names), "one of " + string.Join(",", QualityReportFormats.Names));
        format.DefaultValueFactory = _ => "markdown";
        var symbols = CliOptions.CheckedList<string>("--symbols", "Symbols to report, comma-separated (default: SUPPORTED_PAIRS; the demo's in embedded mode)", CliOptions.TrySymbol, CliOptions.SymbolExpected);
        var timeframes = CliOptions.CheckedList<Timeframe>("--timeframes", "Intervals to report, comma-separated (default: SUPPORTED_TIMEFRAMES)", CliOptions.TryTimeframe, "one of " + CliOptions.TimeframeNames);
        var to = CliOptions.Checked<DateTimeOffset?>("--to", "End of the period, ISO 8601 with Z or an offset (default: now)", CliOptions.TryTime, IsoTime.Expected);
        var command = new Command("report", "Write a data-quality report per series from the store's audits and incidents: SLO attainment, error budget left, "
            + "incidents by severity with durations and causes, the worst hours. Exit 0 reported; 2 bad arguments or configuration; 3 the store unreachable.")
        {
            days, format, symbols, timeframes, to,
        };
        command.SetAction((parsed, cancellationToken) => RunAsync(
            new Request(parsed.GetValue(days), parsed.GetValue(format)!, parsed.ListOrNull(symbols), parsed.ListOrNull(timeframes), parsed.GetValue(to)),
            context, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(Request request, VerbContext context, CancellationToken cancellationToken)
    {
        var (_, output, errors, time) = context;
        if (await Verbs.BindSettingsAsync(context, usesStore: true, usesCandles: false) is not { } settings)
        {
            return AuditCommand.BadArguments;
        }

        var (storeOptions, candleOptions, seriesOptions, incidentOptions) = (settings.Store, settings.Candles, settings.Series, settings.Incidents);
        IReadOnlyList<string> symbols = request.Symbols ?? (candleOptions.IsEmbedded && !seriesOptions.PairsConfigured ? DemoCandles.Symbols : seriesOptions.SupportedPairs);
        IReadOnlyList<Timeframe> timeframes = request.Timeframes ?? seriesOptions.SupportedTimeframes;
        var now = time.GetUtcNow();
        var end = request.To?.ToUniversalTime() ?? new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        var start = end - TimeSpan.FromDays(request.Days);

        await using var provider = new ServiceCollection().AddDataManagerStore(storeOptions).BuildServiceProvider();
        var histories = new List<SeriesHistory>();
        try
        {
            await provider.GetRequiredService<IStoreLifecycle>().InitializeAsync(cancellationToken);
            var audits = provider.GetRequiredService<IAuditStore>();
            var incidents = await IncidentsAsync(provider.GetRequiredService<IIncidentStore>(), end, cancellationToken);
            foreach (var symbol in symbols)
            {
                foreach (var timeframe in timeframes)
                {
                    var latestBefore = await audits.QueryAsync(new AuditQuery(symbol, timeframe.Name, To: start, Limit: 1), cancellationToken);
                    var inPeriod = await AuditsAsync(audits, symbol, timeframe.Name, start, end, cancellationToken);
                    histories.Add(new SeriesHistory(symbol, timeframe.Name, timeframe.Interval, latestBefore.Count > 0 ? latestBefore[0] : null, inPeriod,
                        [.. incidents.Where(i => i.Symbol == symbol && i.Timeframe == timeframe.Name)]));
                }
            }
        }
        catch (Exception e) when (DependencyFailure.IsUnreachable(e))
        {
            await errors.WriteLineAsync($"report: cannot reach the store ({provider.GetRequiredService<IStoreLifecycle>().Describe()}): {StoreErrorText.OneLine(e)}");
            return AuditCommand.Unreachable;
        }

        var report = QualityReports.Build(time.GetUtcNow(), start, end,
            new ReportObjectives(incidentOptions.CompletenessObjective, incidentOptions.FreshnessObjective), histories);
        await output.WriteAsync(QualityReportFormats.Render(report, request.Format));
        return AuditCommand.Ran;
    }

    private static async Task<List<AuditRecord>> AuditsAsync(IAuditStore audits, string symbol, string timeframe, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var all = new List<AuditRecord>();
        while (true)
        {
            var page = await audits.QueryAsync(new AuditQuery(symbol, timeframe, from, to, Skip: all.Count, Limit: Page), cancellationToken);
            all.AddRange(page);
            if (page.Count < Page)
            {
                return all;
            }
        }
    }

    /// <summary>Every incident opened before the end (the store keeps resolved ones INCIDENT_RETENTION_DAYS); the report keeps those that overlap the period.</summary>
    private static async Task<List<Incident>> IncidentsAsync(IIncidentStore incidents, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var all = new List<Incident>();
        while (true)
        {
            var page = await incidents.QueryAsync(new IncidentQuery(To: to, Skip: all.Count, Limit: 1000), cancellationToken);
            all.AddRange(page);
            if (page.Count < 1000)
            {
                return all;
            }
        }
    }

    private sealed record Request(double Days, string Format, IReadOnlyList<string>? Symbols, IReadOnlyList<Timeframe>? Timeframes, DateTimeOffset? To);
}
