using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using DataManager.Cli;
using DataManager.Storage.Sqlite;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Reporting;

/// <summary>
/// The <c>report</c> verb over the store the service writes (SQLite in DATA_DIR): six hours of two 1m series with
/// an hour-long outage each (<see cref="QualityReportTests"/>), in its three formats; the HTML rendered by headless
/// Chromium.
/// </summary>
[Trait("Category", "Server")]
public sealed class ReportCommandTests : IDisposable
{
    private static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT"];
    private readonly string _dataDir = ServerAvailability.TempDirectory("dm-report");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task SeedAsync()
    {
        var path = Path.Combine(_dataDir, "datamanager.db");
        var store = new SqliteTestStore(path);
        await store.InitializeAsync(Ct);
        var incidents = store.Incidents;
        foreach (var symbol in Symbols)
        {
            var history = QualityReportTests.Outage(symbol);
            await store.InsertAsync([history.Before!, .. history.Audits], Ct);
            foreach (var incident in history.Incidents)
            {
                Assert.True(await incidents.TrySaveAsync(incident, 0, Ct));
            }
        }
    }

    private async Task<(int Code, string Output, string Errors)> RunAsync(IReadOnlyDictionary<string, string?>? settings, params string[] args)
    {
        var values = new Dictionary<string, string?> { ["DATA_DIR"] = _dataDir, ["SUPPORTED_PAIRS"] = string.Join(",", Symbols), ["SUPPORTED_TIMEFRAMES"] = "1m" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var errors = new StringWriter(CultureInfo.InvariantCulture);
        var code = await ReportCommand.RunAsync(args, configuration, output, errors, new FakeTimeProvider(QualityReportTests.To), Ct);
        return (code, output.ToString(), errors.ToString());
    }

    [Fact]
    public async Task The_json_report_has_the_documented_fields_and_the_period_s_figures()
    {
        await SeedAsync();
        var (code, output, errors) = await RunAsync(null, "--days", "0.25", "--format", "json");
        Assert.True(code == 0, errors);
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // one line, as audit --format json prints its document
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(["generatedAt", "from", "to", "days", "objectives", "series"], root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(("2026-11-20T00:00:00Z", "2026-11-20T06:00:00Z", 0.25), (root.GetProperty("from").GetString(), root.GetProperty("to").GetString(), root.GetProperty("days").GetDouble()));
        Assert.Equal("""{"completenessPercent":99.9,"freshnessPercent":99}""", root.GetProperty("objectives").GetRawText());

        var series = root.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal(Symbols, series.Select(s => s.GetProperty("symbol").GetString()).ToArray());
        var btc = series[0];
        Assert.Equal(["symbol", "timeframe", "audits", "firstAuditAt", "lastAuditAt", "completeness", "freshness", "incidents", "worstHours"], btc.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("""{"objectivePercent":99.9,"goodEvents":302,"totalEvents":360,"attainmentPercent":83.8889,"errorBudgetLeftPercent":-16011.11,"met":false}""",
            btc.GetProperty("completeness").GetRawText());

        var incidents = btc.GetProperty("incidents");
        Assert.Equal((4, 2), (incidents.GetProperty("total").GetInt32(), incidents.GetProperty("open").GetInt32()));
        var critical = incidents.GetProperty("bySeverity")[0];
        Assert.Equal("""{"severity":"critical","count":1,"open":0,"totalSeconds":3300,"longestSeconds":3300,"causes":{"backfilled":0,"late_write":1,"duplicates_removed":0,"source_empty":0,"unexplained":0}}""",
            critical.GetRawText());
        var gap = incidents.GetProperty("items")[0];
        Assert.Equal(["id", "kind", "rule", "severity", "state", "from", "to", "size", "openedAt", "resolvedAt", "cause", "durationSeconds", "detectSeconds", "backfillJobId"],
            gap.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(("gap", "major", "resolved", "backfilled", "2026-11-20T03:05:00Z", 3600.0), (gap.GetProperty("kind").GetString(), gap.GetProperty("severity").GetString(),
            gap.GetProperty("state").GetString(), gap.GetProperty("cause").GetString(), gap.GetProperty("resolvedAt").GetString(), gap.GetProperty("durationSeconds").GetDouble()));

        var worst = btc.GetProperty("worstHours")[0];
        Assert.Equal("""{"hour":"2026-11-20T02:00:00Z","candlesGood":7,"candlesTotal":60,"minutesGood":5,"minutesTotal":60,"burnRate":883.33,"incidents":2}""", worst.GetRawText());
    }

    [Fact]
    public async Task The_markdown_report_is_the_default_with_a_summary_row_per_series()
    {
        await SeedAsync();
        var (code, output, errors) = await RunAsync(null, "--days", "0.25");
        Assert.True(code == 0, errors);
        Assert.StartsWith("# Data quality report, 2026-11-20T00:00:00Z to 2026-11-20T06:00:00Z\n", output, StringComparison.Ordinal);
        Assert.Contains("| BTCUSDT 1m | 72 | 83.889% (missed) | -16011.11% | 83.333% (missed) | -1566.67% | 1/1/2 | 2 |", output, StringComparison.Ordinal);
        Assert.Contains("| critical | 1 | 0 | 55 min | 55 min | late_write 1 |", output, StringComparison.Ordinal);
        Assert.Contains("| 2026-11-20T02:05:00Z | major | gap | 2026-11-20T02:00:00Z .. 2026-11-20T02:04:00Z | 60 | resolved | backfilled | 1 h 00 min |", output, StringComparison.Ordinal);
        Assert.Contains("| 2026-11-20T02:00:00Z | 883.33× | 7/60 | 5/60 | 2 |", output, StringComparison.Ordinal);
        Assert.Contains("## ETHUSDT 1m", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_store_exits_3()
    {
        var mongo = $"mongodb://127.0.0.1:{ServerAvailability.FreePort()}/datamanager?serverSelectionTimeoutMS=2000";
        var (code, output, errors) = await RunAsync(new Dictionary<string, string?> { ["MONGODB_URL"] = mongo }, "--format", "json");
        Assert.Equal(AuditCommand.Unreachable, code);
        Assert.Empty(output);
        Assert.StartsWith("report: cannot reach the store", errors, StringComparison.Ordinal);
        // One line naming the server and the wait, not the driver's cluster dump with stack traces.
        var line = Assert.Single(errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"): MongoDB 127.0.0.1:{new Uri(mongo).Port} did not answer within 2 s (server selection timeout", line, StringComparison.Ordinal);
        Assert.True(line.Length < 300, line);
    }

    [Fact]
    public async Task A_bad_setting_exits_2_before_reading_the_store()
    {
        var (code, output, errors) = await RunAsync(new Dictionary<string, string?> { ["QUALITY_SLO_COMPLETENESS"] = "101" });
        Assert.Equal(AuditCommand.BadArguments, code);
        Assert.Empty(output);
        Assert.Contains("QUALITY_SLO_COMPLETENESS", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_html_report_is_one_self_contained_page_that_chromium_renders_with_a_chart_per_series()
    {
        var (chromium, unavailable) = LocalChromium.Find();
        ServerAvailability.Require("chromium", unavailable);
        await SeedAsync();
        var (code, html, errors) = await RunAsync(null, "--days", "0.25", "--format", "html");
        Assert.True(code == 0, errors);
        var page = Path.Combine(_dataDir, "report.html");
        await File.WriteAllTextAsync(page, html, Ct);

        var dom = await chromium!.DumpDomAsync(page);
        // Self-contained: nothing fetched (no script, stylesheet link, image or external URL); the style is inline.
        Assert.DoesNotMatch(@"<(script|link|img|iframe|object)\b|\bsrc=|url\(|https?://", dom);
        Assert.Matches(@"<style>[^<]*svg\.chart", dom);
        Assert.Equal(2, Regex.Count(dom, "<tr data-series="));
        Assert.Equal(2, Regex.Count(dom, "<section class=\"series\""));
        foreach (var symbol in Symbols)
        {
            var section = Regex.Match(dom, $"<section class=\"series\" id=\"series-{symbol}-1m\">.*?</section>", RegexOptions.Singleline).Value;
            var chart = Regex.Match(section, "<svg class=\"chart\".*?</svg>", RegexOptions.Singleline).Value;
            Assert.NotEmpty(chart);
            // One point per hour for each SLI, one band per incident in its severity's class.
            Assert.Equal(6, Regex.Match(chart, "<polyline class=\"completeness\"[^>]*points=\"([^\"]*)\"").Groups[1].Value.Split(' ').Length);
            Assert.Equal(6, Regex.Match(chart, "<polyline class=\"freshness\"[^>]*points=\"([^\"]*)\"").Groups[1].Value.Split(' ').Length);
            Assert.Equal(["critical", "major", "minor", "minor"], Regex.Matches(chart, "<rect class=\"incident (\\w+)\"").Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToArray());
            Assert.Equal(4, Regex.Count(section, "<tr data-incident="));
            Assert.Contains("<td>2026-11-20T02:00:00Z</td><td>883.33×</td>", section, StringComparison.Ordinal);
        }

        // The screenshot is the requested viewport, and holds far more than an empty page's.
        var screenshot = await chromium.ScreenshotAsync(page, 1200, 900);
        Assert.Equal((1200, 900), LocalChromium.PngSize(screenshot));
        var blankPage = Path.Combine(_dataDir, "blank.html");
        await File.WriteAllTextAsync(blankPage, "<!DOCTYPE html><html><body></body></html>", Ct);
        var blank = await chromium.ScreenshotAsync(blankPage, 1200, 900);
        Assert.Equal((1200, 900), LocalChromium.PngSize(blank));
        Assert.True(screenshot.Length > 5 * blank.Length, $"report screenshot {screenshot.Length} bytes, blank page {blank.Length} bytes");
    }

    public void Dispose() => LocalServers.DeleteDirectory(_dataDir);
}
