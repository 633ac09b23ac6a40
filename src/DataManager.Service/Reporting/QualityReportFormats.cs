using System.Globalization;
using System.Net;
using System.Text;
using DataManager.Incidents;
using DataManager.Storage;

namespace DataManager.Reporting;

/// <summary>The report as JSON (the API's conventions), Markdown, or one self-contained HTML page.</summary>
public static class QualityReportFormats
{
    public static readonly string[] Names = ["markdown", "html", "json"];

    public static string Render(QualityReport report, string format) => format switch
    {
        "json" => StoreJson.Serialize(report) + "\n",
        "html" => Html(report),
        _ => Markdown(report),
    };

    public static string Markdown(QualityReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(Invariant($"# Data quality report, {Iso(report.From)} to {Iso(report.To)}"));
        text.AppendLine();
        text.AppendLine(Invariant($"Generated {Iso(report.GeneratedAt)}. Objectives: completeness {report.Objectives.CompletenessPercent}% of candles present within two intervals of their close; freshness {report.Objectives.FreshnessPercent}% of minutes with the newest candle at most two intervals old."));
        text.AppendLine();
        text.AppendLine("| series | audits | completeness | budget left | freshness | budget left | incidents (critical/major/minor) | open |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in report.Series)
        {
            text.AppendLine(Invariant($"| {s.Symbol} {s.Timeframe} | {s.Audits} | {Percent(s.Completeness.AttainmentPercent)}{Verdict(s.Completeness)} | {Percent(s.Completeness.ErrorBudgetLeftPercent)} | {Percent(s.Freshness.AttainmentPercent)}{Verdict(s.Freshness)} | {Percent(s.Freshness.ErrorBudgetLeftPercent)} | {string.Join("/", s.Incidents.BySeverity.Select(b => b.Count))} | {s.Incidents.Open} |"));
        }

        foreach (var s in report.Series)
        {
            text.AppendLine();
            text.AppendLine(Invariant($"## {s.Symbol} {s.Timeframe}"));
            text.AppendLine();
            text.AppendLine(s.Audits == 0
                ? "No audit in the period: no SLO figures."
                : Invariant($"Completeness {Percent(s.Completeness.AttainmentPercent)} ({s.Completeness.GoodEvents:0} of {Count(s.Completeness.TotalEvents, "candle", "candles")}), error budget left {Percent(s.Completeness.ErrorBudgetLeftPercent)}. ") + Invariant(
                    $"Freshness {Percent(s.Freshness.AttainmentPercent)} ({s.Freshness.GoodEvents:0.#} of {Count(s.Freshness.TotalEvents, "minute", "minutes")}), error budget left {Percent(s.Freshness.ErrorBudgetLeftPercent)}."));
            text.AppendLine();
            if (s.Incidents.Total > 0)
            {
                text.AppendLine("| severity | incidents | open | total duration | longest | causes |");
                text.AppendLine("|---|---:|---:|---:|---:|---|");
                foreach (var b in s.Incidents.BySeverity.Where(b => b.Count > 0))
                {
                    text.AppendLine(Invariant($"| {Name(b.Severity)} | {b.Count} | {b.Open} | {Duration(b.TotalSeconds)} | {Duration(b.LongestSeconds)} | {Causes(b)} |"));
                }

                text.AppendLine();
                text.AppendLine("| opened | severity | kind | range | size | state | cause | duration |");
                text.AppendLine("|---|---|---|---|---:|---|---|---:|");
                foreach (var i in s.Incidents.Items)
                {
                    text.AppendLine(Invariant($"| {Iso(i.OpenedAt)} | {Name(i.Severity)} | {Kind(i)} | {Iso(i.From)} .. {Iso(i.To)} | {i.Size} | {Name(i.State)} | {(i.Cause is { } c ? Name(c) : "")} | {Duration(i.DurationSeconds)} |"));
                }
            }
            else
            {
                text.AppendLine("No incident.");
            }

            text.AppendLine();
            if (s.WorstHours.Count > 0)
            {
                text.AppendLine("Worst hours:");
                text.AppendLine();
                text.AppendLine("| hour | burn rate | candles good/total | fresh minutes/total | incidents |");
                text.AppendLine("|---|---:|---:|---:|---:|");
                foreach (var h in s.WorstHours)
                {
                    text.AppendLine(Invariant($"| {Iso(h.Hour)} | {h.BurnRate:0.##}× | {h.CandlesGood:0}/{h.CandlesTotal:0} | {h.MinutesGood:0.#}/{h.MinutesTotal:0.#} | {h.Incidents} |"));
                }
            }
            else
            {
                text.AppendLine("No hour spent error budget.");
            }
        }

        return text.ToString();
    }

    public static string Html(QualityReport report)
    {
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html>");
        html.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.AppendLine(Invariant($"<title>Data quality report {Iso(report.From)} to {Iso(report.To)}</title>"));
        html.AppendLine("""
            <style>
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2330;background:#fff}
            h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px;border-top:1px solid #d5dae3;padding-top:14px}
            table{border-collapse:collapse;margin:8px 0 12px}th,td{border:1px solid #d5dae3;padding:3px 8px;text-align:right}
            th{background:#f1f3f7}td:first-child,th:first-child{text-align:left}
            table.incidents td,table.incidents th{text-align:left;white-space:nowrap}
            .met{color:#1a7f37}.missed{color:#c62828;font-weight:600}.muted{color:#69707d}
            .critical{fill:#c62828;color:#c62828}.major{fill:#ef6c00;color:#ef6c00}.minor{fill:#f9a825;color:#9a6700}
            svg.chart{display:block;border:1px solid #d5dae3;background:#fbfcfe;margin:6px 0}
            .legend span{margin-right:14px}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
            </style>
            """);
        html.AppendLine("</head><body>");
        html.AppendLine(Invariant($"<h1>Data quality report</h1><p class=\"muted\">{Iso(report.From)} to {Iso(report.To)} ({report.Days:0.###} days), generated {Iso(report.GeneratedAt)}. ") + Invariant(
            $"Objectives: completeness {report.Objectives.CompletenessPercent}%, freshness {report.Objectives.FreshnessPercent}%.</p>"));
        html.AppendLine("<table id=\"summary\"><thead><tr><th>series</th><th>audits</th><th>completeness</th><th>budget left</th><th>freshness</th><th>budget left</th><th>critical</th><th>major</th><th>minor</th><th>open</th></tr></thead><tbody>");
        foreach (var s in report.Series)
        {
            html.Append(Invariant($"<tr data-series=\"{E(s.Symbol)}-{E(s.Timeframe)}\"><td><a href=\"#series-{E(s.Symbol)}-{E(s.Timeframe)}\">{E(s.Symbol)} {E(s.Timeframe)}</a></td><td>{s.Audits}</td>"));
            html.Append(Invariant($"{AttainmentCell(s.Completeness)}<td>{Percent(s.Completeness.ErrorBudgetLeftPercent)}</td>{AttainmentCell(s.Freshness)}<td>{Percent(s.Freshness.ErrorBudgetLeftPercent)}</td>"));
            foreach (var b in s.Incidents.BySeverity)
            {
                html.Append(Invariant($"<td>{b.Count}</td>"));
            }

            html.AppendLine(Invariant($"<td>{s.Incidents.Open}</td></tr>"));
        }

        html.AppendLine("</tbody></table>");
        html.AppendLine("<p class=\"legend muted\"><span><i class=\"swatch\" style=\"background:#1f6feb\"></i>completeness per hour</span><span><i class=\"swatch\" style=\"background:#2da44e\"></i>freshness per hour</span>"
            + "<span><i class=\"swatch\" style=\"background:#c62828\"></i>critical</span><span><i class=\"swatch\" style=\"background:#ef6c00\"></i>major</span><span><i class=\"swatch\" style=\"background:#f9a825\"></i>minor incident</span></p>");
        foreach (var s in report.Series)
        {
            html.AppendLine(Invariant($"<section class=\"series\" id=\"series-{E(s.Symbol)}-{E(s.Timeframe)}\"><h2>{E(s.Symbol)} {E(s.Timeframe)}</h2>"));
            html.AppendLine(Invariant($"<p>Completeness {AttainmentText(s.Completeness)} ({s.Completeness.GoodEvents:0} of {Count(s.Completeness.TotalEvents, "candle", "candles")}), error budget left {Percent(s.Completeness.ErrorBudgetLeftPercent)}. ") + Invariant(
                $"Freshness {AttainmentText(s.Freshness)} ({s.Freshness.GoodEvents:0.#} of {Count(s.Freshness.TotalEvents, "minute", "minutes")}), error budget left {Percent(s.Freshness.ErrorBudgetLeftPercent)}. {Count(s.Audits, "audit", "audits")}.</p>"));
            html.AppendLine(Chart(report, s));
            if (s.Incidents.Total > 0)
            {
                html.AppendLine("<table class=\"by-severity\"><thead><tr><th>severity</th><th>incidents</th><th>open</th><th>total duration</th><th>longest</th><th>causes</th></tr></thead><tbody>");
                foreach (var b in s.Incidents.BySeverity.Where(b => b.Count > 0))
                {
                    html.AppendLine(Invariant($"<tr><td class=\"{Name(b.Severity)}\">{Name(b.Severity)}</td><td>{b.Count}</td><td>{b.Open}</td><td>{Duration(b.TotalSeconds)}</td><td>{Duration(b.LongestSeconds)}</td><td>{E(Causes(b))}</td></tr>"));
                }

                html.AppendLine("</tbody></table>");
                html.AppendLine("<table class=\"incidents\"><thead><tr><th>opened</th><th>severity</th><th>kind</th><th>range</th><th>size</th><th>state</th><th>cause</th><th>duration</th></tr></thead><tbody>");
                foreach (var i in s.Incidents.Items)
                {
                    html.AppendLine(Invariant($"<tr data-incident=\"{E(i.Id)}\"><td>{Iso(i.OpenedAt)}</td><td class=\"{Name(i.Severity)}\">{Name(i.Severity)}</td><td>{E(Kind(i))}</td><td>{Iso(i.From)} .. {Iso(i.To)}</td><td>{i.Size}</td><td>{Name(i.State)}</td><td>{(i.Cause is { } c ? Name(c) : "")}</td><td>{Duration(i.DurationSeconds)}</td></tr>"));
                }

                html.AppendLine("</tbody></table>");
            }
            else
            {
                html.AppendLine("<p class=\"muted\">No incident.</p>");
            }

            if (s.WorstHours.Count > 0)
            {
                html.AppendLine("<table class=\"worst-hours\"><thead><tr><th>worst hours</th><th>burn rate</th><th>candles good/total</th><th>fresh minutes/total</th><th>incidents</th></tr></thead><tbody>");
                foreach (var h in s.WorstHours)
                {
                    html.AppendLine(Invariant($"<tr><td>{Iso(h.Hour)}</td><td>{h.BurnRate:0.##}×</td><td>{h.CandlesGood:0}/{h.CandlesTotal:0}</td><td>{h.MinutesGood:0.#}/{h.MinutesTotal:0.#}</td><td>{h.Incidents}</td></tr>"));
                }

                html.AppendLine("</tbody></table>");
            }
            else
            {
                html.AppendLine("<p class=\"muted\">No hour spent error budget.</p>");
            }

            html.AppendLine("</section>");
        }

        html.AppendLine("</body></html>");
        return html.ToString();
    }

    /// <summary>
    /// Hourly attainment of both SLIs (0–100 %, hours without events left out) over the period, the objectives as
    /// dashed lines, and each incident as a band under the plot in its severity's colour and lane.
    /// </summary>
    private static string Chart(QualityReport report, SeriesQuality s)
    {
        const double width = 900, plotTop = 10, plotHeight = 120, left = 44, right = 8, bandTop = 136, bandHeight = 5, height = 172;
        var span = (report.To - report.From).TotalSeconds;
        double X(DateTimeOffset t) => left + (Math.Clamp((t - report.From).TotalSeconds, 0, span) / span * (width - left - right));
        double Y(double percent) => plotTop + ((100 - percent) / 100 * plotHeight);
        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg class=\"chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{E(s.Symbol)} {E(s.Timeframe)}: hourly completeness and freshness, incidents\">"));
        foreach (var tick in new[] { 0, 50, 100 })
        {
            svg.Append(Invariant($"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(tick):0.#}\" y2=\"{Y(tick):0.#}\" stroke=\"#e3e7ee\"/><text x=\"{left - 4}\" y=\"{Y(tick) + 4:0.#}\" font-size=\"10\" text-anchor=\"end\" fill=\"#69707d\">{tick}%</text>"));
        }

        svg.Append(Invariant($"<line class=\"objective\" x1=\"{left}\" x2=\"{width - right}\" y1=\"{Y(report.Objectives.CompletenessPercent):0.##}\" y2=\"{Y(report.Objectives.CompletenessPercent):0.##}\" stroke=\"#1f6feb\" stroke-dasharray=\"4 3\" stroke-width=\"0.8\"/>"));
        var halfHour = TimeSpan.FromMinutes(30);
        foreach (var (name, colour, points) in new[]
        {
            ("completeness", "#1f6feb", s.Hours.Where(h => h.CandlesTotal > 0).Select(h => (h.Hour, h.CandlesGood / h.CandlesTotal * 100))),
            ("freshness", "#2da44e", s.Hours.Where(h => h.MinutesTotal > 0).Select(h => (h.Hour, h.MinutesGood / h.MinutesTotal * 100))),
        })
        {
            var coordinates = string.Join(" ", points.Select(p => Invariant($"{X(p.Hour + halfHour):0.#},{Y(p.Item2):0.#}")));
            svg.Append(Invariant($"<polyline class=\"{name}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{coordinates}\"/>"));
        }

        foreach (var i in s.Incidents.Items)
        {
            var x = X(i.OpenedAt);
            var w = Math.Max(2, X(i.ResolvedAt ?? report.To) - x);
            var lane = IncidentSeverity.Critical - i.Severity; // critical on top, so overlapping incidents stay visible
            svg.Append(Invariant($"<rect class=\"incident {Name(i.Severity)}\" x=\"{x:0.#}\" y=\"{bandTop + (lane * (bandHeight + 1))}\" width=\"{w:0.#}\" height=\"{bandHeight}\" opacity=\"0.85\"><title>{Name(i.Severity)} {E(Kind(i))} {Iso(i.OpenedAt)}, {Duration(i.DurationSeconds)}</title></rect>"));
        }

        svg.Append(Invariant($"<text x=\"{left}\" y=\"{height - 4}\" font-size=\"10\" fill=\"#69707d\">{Iso(report.From)}</text><text x=\"{width - right}\" y=\"{height - 4}\" font-size=\"10\" text-anchor=\"end\" fill=\"#69707d\">{Iso(report.To)}</text>"));
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static string AttainmentCell(SloAttainment slo) => $"<td class=\"{(slo.Met is false ? "missed" : slo.Met is true ? "met" : "muted")}\">{Percent(slo.AttainmentPercent)}</td>";

    private static string AttainmentText(SloAttainment slo) => slo.Met is null
        ? "n/a"
        : $"<b class=\"{(slo.Met.Value ? "met" : "missed")}\">{Percent(slo.AttainmentPercent)}</b>";

    private static string Verdict(SloAttainment slo) => slo.Met is false ? " (missed)" : "";

    private static string Causes(SeverityIncidents b) =>
        string.Join(", ", b.Causes.Where(c => c.Value > 0).Select(c => Invariant($"{c.Key} {c.Value}")).Append(b.Open > 0 ? Invariant($"open {b.Open}") : null).OfType<string>());

    private static string Kind(ReportedIncident i) => i.Rule.Length > 0 ? $"{Name(i.Kind)} ({i.Rule})" : Name(i.Kind);

    private static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => IncidentMetrics.Name(value);

    /// <summary>A count with its noun, singular for exactly one: "1 audit", "0 audits", "1.5 minutes".</summary>
    public static string Count(double count, string singular, string plural) =>
        count.ToString("0.#", CultureInfo.InvariantCulture) + " " + (count == 1 ? singular : plural);

    private static string Percent(double? value) => value is { } v ? v.ToString("0.###", CultureInfo.InvariantCulture) + "%" : "n/a";

    /// <summary>A duration in the largest units that matter: 45 s, 12 min, 3 h 05 min, 2 d 4 h.</summary>
    public static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalMinutes < 1 ? Invariant($"{t.Seconds} s")
            : t.TotalHours < 1 ? Invariant($"{t.Minutes} min")
            : t.TotalDays < 1 ? Invariant($"{t.Hours} h {t.Minutes:00} min")
            : Invariant($"{(int)t.TotalDays} d {t.Hours} h");
    }

    private static string Iso(DateTimeOffset time) => Cli.CliOptions.Iso(time);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
