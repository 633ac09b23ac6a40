using DataManager.Auditing;

namespace DataManager.Tests.Auditing;

public sealed class AnomalyDetectorTests
{
    private static readonly DateTime Start = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>A deterministic walk whose steps are ±0.1 % in a repeating pattern, with some larger moves.</summary>
    private static (long[] Ticks, float[] Closes, float[] Volumes) Walk(int count)
    {
        var ticks = new long[count];
        var closes = new float[count];
        var volumes = new float[count];
        var price = 100.0;
        double[] steps = [0.001, -0.0012, 0.0008, -0.0005, 0.0015, -0.001, 0.0003, -0.0018, 0.0011, -0.0002];
        for (var i = 0; i < count; i++)
        {
            ticks[i] = Start.AddMinutes(i).Ticks;
            price *= 1 + steps[i % steps.Length];
            closes[i] = (float)price;
            volumes[i] = 100 + (i % 7 * 10);
        }

        return (ticks, closes, volumes);
    }

    [Fact]
    public void Ordinary_volatility_does_not_fire()
    {
        var (ticks, closes, volumes) = Walk(1000);
        // Fat tails: every 50th step moves five times the usual size.
        for (var i = 50; i < closes.Length; i += 50)
        {
            for (var j = i; j < closes.Length; j++)
            {
                closes[j] *= 1.005f;
            }
        }

        Assert.Empty(AnomalyDetector.Find(ticks, closes, volumes, 12));
    }

    [Fact]
    public void A_price_jump_and_its_return_are_price_spikes()
    {
        var (ticks, closes, volumes) = Walk(500);
        closes[300] *= 1.08f; // an 8 % wick up for one candle, back down on the next
        var findings = AnomalyDetector.Find(ticks, closes, volumes, 12);
        Assert.Equal([(Start.AddMinutes(300), "price_spike"), (Start.AddMinutes(301), "price_spike")],
            findings.Select(f => (f.OpenTime.UtcDateTime, f.Kind)).ToArray());
        Assert.All(findings, f => Assert.True(f.Score > 12));
    }

    [Fact]
    public void A_volume_burst_is_a_volume_spike_but_a_drought_is_not()
    {
        var (ticks, closes, volumes) = Walk(500);
        volumes[200] = 100_000;
        volumes[400] = 0.5f;
        var finding = Assert.Single(AnomalyDetector.Find(ticks, closes, volumes, 12));
        Assert.Equal((Start.AddMinutes(200), "volume_spike"), (finding.OpenTime.UtcDateTime, finding.Kind));
    }

    [Fact]
    public void A_quiet_series_with_tiny_deviation_does_not_fire_on_small_moves()
    {
        var ticks = Enumerable.Range(0, 300).Select(i => Start.AddMinutes(i).Ticks).ToArray();
        // Mostly unchanged, one tick now and then: the MAD is tiny, a 0.4 % move scores a huge z but is not a spike.
        var closes = Enumerable.Range(0, 300).Select(i => i % 25 == 0 ? 100.4f : 100f).ToArray();
        var volumes = Enumerable.Range(0, 300).Select(i => i % 25 == 0 ? 300f : 100f).ToArray();
        Assert.Empty(AnomalyDetector.Find(ticks, closes, volumes, 12));
    }

    [Fact]
    public void Short_or_flat_series_have_no_anomalies()
    {
        var (ticks, closes, volumes) = Walk(10);
        closes[5] *= 2;
        Assert.Empty(AnomalyDetector.Find(ticks, closes, volumes, 12));
        var flat = Enumerable.Repeat(100f, 100).ToArray();
        Assert.Empty(AnomalyDetector.Find([.. Enumerable.Range(0, 100).Select(i => Start.AddMinutes(i).Ticks)], flat, flat, 12));
    }
}
