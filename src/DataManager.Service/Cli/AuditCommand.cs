using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Hosting;
using DataManager.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace DataManager.Cli;

/// <summary>
/// <c>audit [--symbols A,B] [--timeframes 15m,1h] [--from ISO] [--to ISO] [--format json|table] [--fail-below LEVEL]</c>:
/// the scheduler's engine, once, in the foreground. Exit 0 ran; 1 a series below --fail-below (or failed);
/// 2 bad arguments or configuration; 3 a dependency unreachable.
/// </summary>
public static class AuditCommand
{
    public const int Ran = 0;
    public const int BelowThreshold = 1;
    public const int BadArguments = 2;
    public const int Unreachable = 3;

    public static readonly string[] Levels = ["healthy", "degraded", "unhealthy", "critical"];

    private static readonly string[] Formats = ["json", "table"];

    public static Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter errors, TimeProvider time, CancellationToken cancellationToken) =>
        Verbs.RunVerbAsync("audit", args, new VerbContext(configuration, output, errors, time), cancellationToken);

    public static Command Create(VerbContext context)
    {
        var symbols = CliOptions.CheckedList<string>("--symbols", "Symbols to audit, comma-separated (default: SUPPORTED_PAIRS; the demo's in embedded mode)", CliOptions.TrySymbol, CliOptions.SymbolExpected);
        var timeframes = CliOptions.CheckedList<Timeframe>("--timeframes", "Intervals to audit, comma-separated (default: SUPPORTED_TIMEFRAMES)", CliOptions.TryTimeframe, "one of " + CliOptions.TimeframeNames);
        var from = CliOptions.Checked<DateTimeOffset?>("--from", "Window start, ISO 8601 with Z or an offset (default: AUDIT_WINDOW_HOURS before --to)", CliOptions.TryTime, IsoTime.Expected);
        var to = CliOptions.Checked<DateTimeOffset?>("--to", "Window end, ISO 8601 with Z or an offset (default: now)", CliOptions.TryTime, IsoTime.Expected);
        var format = CliOptions.Checked("--format", "json (the default: one JSON document on standard output) or table", CliOptions.OneOf(Formats), "one of " + string.Join(",", Formats));
        format.DefaultValueFactory = _ => "json";
        var failBelow = CliOptions.Checked<string?>("--fail-below", "Exit 1 when a series is below this level: " + string.Join(", ", Levels), CliOptions.OneOf(Levels)!, "one of " + string.Join(",", Levels));
        var command = new Command("audit", "Audit candle series once, in the foreground, with the scheduler's engine. Exit 0 ran; 1 a series below --fail-below (or failed); 2 bad arguments or configuration; 3 the candle database unreachable.")
        {
            symbols, timeframes, from, to, format, failBelow,
        };
        command.SetAction((parsed, cancellationToken) => RunAsync(
            new Request(parsed.ListOrNull(symbols), parsed.ListOrNull(timeframes), parsed.GetValue(from)?.UtcDateTime, parsed.GetValue(to)?.UtcDateTime, parsed.GetValue(format)!, parsed.GetValue(failBelow)),
            context, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(Request request, VerbContext context, CancellationToken cancellationToken)
    {
        var (_, output, errors, time) = context;
        if (await Verbs.BindSettingsAsync(context, usesStore: false, usesCandles: true) is not { } settings)
        {
            return BadArguments;
        }

        var (candleOptions, seriesOptions, auditOptions) = (settings.Candles, settings.Series, settings.Audit);
        IReadOnlyList<string> symbols = request.Symbols ?? (candleOptions.IsEmbedded && !seriesOptions.PairsConfigured ? DemoCandles.Symbols : seriesOptions.SupportedPairs);
        IReadOnlyList<Timeframe> timeframes = request.Timeframes ?? seriesOptions.SupportedTimeframes;
        var now = time.GetUtcNow().UtcDateTime;
        var to = request.To ?? new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        if (request.From is { } requestedFrom && requestedFrom >= to)
        {
            await errors.WriteLineAsync($"audit: --from ({CliOptions.Iso(requestedFrom)}) must be before --to ({CliOptions.Iso(to)})");
            return BadArguments;
        }
        CandleDialect dialect = candleOptions.IsEmbedded ? new SqliteCandleDialect(candleOptions.SqlitePath) : new MySqlCandleDialect(candleOptions.MySqlConnectionString!);
        var candles = new SqlCandleStore(dialect, NullLogger<SqlCandleStore>.Instance);
        var auditor = new SeriesAuditor(candles, Options.Create(auditOptions));
        List<SeriesAuditReport> reports;
        try
        {
            if (dialect is SqliteCandleDialect embedded)
            {
                await new EmbeddedCandleDatabase(embedded, candles, time, NullLogger<EmbeddedCandleDatabase>.Instance).EnsureSeededAsync(cancellationToken);
            }

            await candles.PingAsync(cancellationToken);
            var series = symbols.SelectMany(s => timeframes.Select(t => new SeriesKey(s, t))).ToList();
            var results = new SeriesAuditReport[series.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, series.Count), CandleReadParallelism.Options(cancellationToken), async (i, token) =>
            {
                var key = series[i];
                var from = request.From ?? to - auditOptions.WindowFor(key.Timeframe);
                results[i] = await auditor.AuditAsync(key, from, to, time.GetUtcNow().UtcDateTime, token);
            });
            reports = [.. results];
        }
        catch (Exception e) when (DependencyFailure.IsUnreachable(e))
        {
            await errors.WriteLineAsync($"audit: cannot reach the candle database ({dialect.Name}): {e.Message}");
            return Unreachable;
        }

        if (request.Format == "table")
        {
            await output.WriteAsync(Table(reports));
        }
        else
        {
            var report = new AuditCliReport(time.GetUtcNow(), reports);
            await output.WriteLineAsync(JsonSerializer.Serialize(report, StoreJson.Options));
        }

        if (request.FailBelow is { } threshold)
        {
            var limit = Array.IndexOf(Levels, threshold);
            if (reports.Any(r => r.Health is null || Array.IndexOf(Levels, r.Health.Level) > limit))
            {
                return BelowThreshold;
            }
        }

        return Ran;
    }

    private sealed record Request(IReadOnlyList<string>? Symbols, IReadOnlyList<Timeframe>? Timeframes, DateTime? From, DateTime? To, string Format, string? FailBelow);

    internal static string Table(IReadOnlyList<SeriesAuditReport> reports)
    {
        var text = new StringBuilder();
        var header = string.Format(CultureInfo.InvariantCulture, "{0,-12} {1,-4} {2,9} {3,7} {4,5} {5,5} {6,9} {7,8}  {8}", "SYMBOL", "TF", "EXPECTED", "ACTUAL", "GAPS", "DUP+", "INTEGRITY", "QUALITY", "LEVEL");
        text.AppendLine(header);
        foreach (var r in reports)
        {
            text.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,-12} {1,-4} {2,9} {3,7} {4,5} {5,5} {6,9} {7,8}  {8}",
                r.Symbol, r.Timeframe, r.ExpectedCandles, r.ActualCandles, r.Gaps.Count, r.DuplicateSurplus, r.Integrity.Count,
                r.Health?.Quality.ToString("F2", CultureInfo.InvariantCulture) ?? "-", r.Health?.Level ?? "error: " + r.Error));
            foreach (var gap in r.Gaps)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"    gap        {Iso(gap.From)} .. {Iso(gap.To)}  {gap.MissingCandles} missing");
            }

            foreach (var duplicate in r.Duplicates)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"    duplicate  {Iso(duplicate.OpenTime)}  {duplicate.Rows} rows");
            }

            foreach (var finding in r.Integrity)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"    integrity  {Iso(finding.OpenTime)}  {finding.Rule}  {finding.RowId}");
            }
        }

        return text.ToString();
    }

    private static string Iso(DateTimeOffset time) => CliOptions.Iso(time);
}

public sealed record AuditCliReport(DateTimeOffset GeneratedAt, IReadOnlyList<SeriesAuditReport> Series);
