using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DataManager.Auditing;
using DataManager.Candles;
using DataManager.Configuration;
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

    private static readonly string[] Levels = ["healthy", "degraded", "unhealthy", "critical"];

    public const string Usage = "usage: audit [--symbols A,B] [--timeframes 15m,1h] [--from ISO] [--to ISO] [--format json|table] [--fail-below healthy|degraded|unhealthy|critical]";

    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter errors, TimeProvider time, CancellationToken cancellationToken)
    {
        var configurationErrors = DataManagerConfiguration.Validate(configuration);
        if (configurationErrors.Count > 0)
        {
            foreach (var error in configurationErrors)
            {
                await errors.WriteLineAsync("Invalid configuration: " + error);
            }

            return BadArguments;
        }

        if (!TryParse(args, out var request, out var problem))
        {
            await errors.WriteLineAsync("audit: " + problem);
            await errors.WriteLineAsync(Usage);
            return BadArguments;
        }

        var candleOptions = BindableOptionsServiceCollectionExtensions.BindNow<CandleDatabaseOptions>(configuration);
        var seriesOptions = BindableOptionsServiceCollectionExtensions.BindNow<SeriesOptions>(configuration);
        var auditOptions = BindableOptionsServiceCollectionExtensions.BindNow<AuditOptions>(configuration);
        var symbols = request.Symbols ?? (candleOptions.IsEmbedded && !seriesOptions.PairsConfigured ? DemoCandles.Symbols : seriesOptions.SupportedPairs);
        var timeframes = request.Timeframes ?? seriesOptions.SupportedTimeframes;
        var now = time.GetUtcNow().UtcDateTime;
        var to = request.To ?? new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        if (request.From is { } requestedFrom && requestedFrom >= to)
        {
            await errors.WriteLineAsync("audit: --from must be before --to");
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
            await Parallel.ForEachAsync(Enumerable.Range(0, series.Count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (i, token) =>
            {
                var key = series[i];
                var from = request.From ?? to - auditOptions.WindowFor(key.Timeframe);
                results[i] = await auditor.AuditAsync(key, from, to, time.GetUtcNow().UtcDateTime, token);
            });
            reports = [.. results];
        }
        catch (DbException e)
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

    private static bool TryParse(string[] args, out Request request, out string problem)
    {
        request = new Request(null, null, null, null, "json", null);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name is "--help" or "-h")
            {
                problem = "help";
                return false;
            }

            if (i + 1 >= args.Length)
            {
                problem = $"{name} needs a value";
                return false;
            }

            var value = args[++i];
            switch (name)
            {
                case "--symbols":
                    var symbols = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToUpperInvariant()).ToArray();
                    if (symbols.Length == 0 || symbols.Any(s => !SymbolName.IsValid(s)))
                    {
                        problem = $"--symbols expects symbols matching ^[A-Z0-9]{{2,20}}$, got \"{value}\"";
                        return false;
                    }

                    request = request with { Symbols = symbols };
                    break;
                case "--timeframes":
                    var timeframes = new List<Timeframe>();
                    foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!Timeframe.TryParse(item, out var timeframe))
                        {
                            problem = $"--timeframes expects intervals from {string.Join(",", Timeframe.All.Select(t => t.Name))}, got \"{item}\"";
                            return false;
                        }

                        timeframes.Add(timeframe);
                    }

                    request = request with { Timeframes = timeframes };
                    break;
                case "--from" or "--to":
                    if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
                    {
                        problem = $"{name} expects an ISO 8601 time, got \"{value}\"";
                        return false;
                    }

                    request = name == "--from" ? request with { From = time.UtcDateTime } : request with { To = time.UtcDateTime };
                    break;
                case "--format":
                    if (value is not ("json" or "table"))
                    {
                        problem = $"--format expects json or table, got \"{value}\"";
                        return false;
                    }

                    request = request with { Format = value };
                    break;
                case "--fail-below":
                    if (!Levels.Contains(value))
                    {
                        problem = $"--fail-below expects one of {string.Join(", ", Levels)}, got \"{value}\"";
                        return false;
                    }

                    request = request with { FailBelow = value };
                    break;
                default:
                    problem = $"unknown option {name}";
                    return false;
            }
        }

        problem = "";
        return true;
    }

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

    private static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

public sealed record AuditCliReport(DateTimeOffset GeneratedAt, IReadOnlyList<SeriesAuditReport> Series);
