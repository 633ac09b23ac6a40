using System.Globalization;

namespace DataManager.Tests.Infrastructure;

/// <summary>Reads samples out of the Prometheus text a host serves at /metrics (each host has its own registry).</summary>
public static class Exposition
{
    /// <summary>
    /// The value of the sample written exactly as <paramref name="sample"/>: a name, or a name with its labels in
    /// the order served (<c>name{a="x",b="y"}</c>). Fails when the host does not serve it.
    /// </summary>
    public static double Value(string exposition, string sample)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.Length > sample.Length && line[sample.Length] == ' ' && line.StartsWith(sample, StringComparison.Ordinal))
            {
                return double.Parse(line.AsSpan(sample.Length + 1), NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        Assert.Fail($"/metrics has no sample {sample}");
        return double.NaN;
    }

    /// <summary>Scrapes the host once and reads one sample.</summary>
    public static async Task<double> ScrapeAsync(this ServiceHost host, string sample) =>
        Value(await host.Client.GetStringAsync("/metrics", TestContext.Current.CancellationToken), sample);
}
