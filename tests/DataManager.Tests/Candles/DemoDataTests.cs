using DataManager.Candles;
using DataManager.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace DataManager.Tests.Candles;

public sealed class DemoDataTests : IDisposable
{
    private static readonly DateTime Anchor = new(2026, 11, 23, 10, 0, 0, DateTimeKind.Utc);
    private readonly string _directory = ServerAvailability.TempDirectory("dm-demo");

    [Fact]
    public void The_demo_is_deterministic()
    {
        var first = DemoCandles.Generate(Anchor).Select(x => x.Candle).ToList();
        var second = DemoCandles.Generate(Anchor).Select(x => x.Candle).ToList();
        Assert.Equal(first, second);
    }

    [Fact]
    public void The_demo_holds_its_seeded_defects()
    {
        var rows = DemoCandles.Generate(Anchor).ToList();
        var btc15 = rows.Where(r => r.Timeframe.Name == "15m" && r.Candle.Symbol == "BTCUSDT").Select(r => r.Candle.OpenTime).ToHashSet();
        Assert.DoesNotContain(Anchor.AddHours(-14), btc15);
        Assert.Contains(Anchor.AddHours(-14).AddMinutes(-15), btc15);
        Assert.Contains(Anchor.AddHours(-14).AddMinutes(15), btc15);

        var sol30 = rows.Where(r => r.Timeframe.Name == "30m" && r.Candle.Symbol == "SOLUSDT").GroupBy(r => r.Candle.OpenTime).Where(g => g.Count() > 1).ToList();
        Assert.Equal(3, Assert.Single(sol30).Count());

        var broken = rows.Where(r => r.Candle.High < Math.Max(r.Candle.Open, r.Candle.Close)).Select(r => (r.Candle.Symbol, r.Timeframe.Name)).ToList();
        Assert.Equal([("SOLUSDT", "5m")], broken);

        // Every series has enough candles for the analytics lookback, all closed by the anchor.
        Assert.All(rows.GroupBy(r => (r.Candle.Symbol, r.Timeframe.Name)), g => Assert.True(g.Count() >= 515));
        Assert.All(rows, r => Assert.True(r.Candle.OpenTime + r.Timeframe.Interval <= Anchor));
        Assert.All(rows, r => Assert.Equal(r.Timeframe.Floor(r.Candle.OpenTime), r.Candle.OpenTime));
    }

    [Fact]
    public async Task Parallel_first_starts_on_one_data_dir_seed_exactly_once()
    {
        var path = Path.Combine(_directory, "candles.db");
        var time = new FakeTimeProvider(new DateTimeOffset(Anchor.AddMinutes(25)));
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var dialect = new SqliteCandleDialect(path);
            var store = new SqlCandleStore(dialect, NullLogger<SqlCandleStore>.Instance);
            await new EmbeddedCandleDatabase(dialect, store, time, NullLogger<EmbeddedCandleDatabase>.Instance).EnsureSeededAsync(TestContext.Current.CancellationToken);
        })));

        var reader = new SqlCandleStore(new SqliteCandleDialect(path), NullLogger<SqlCandleStore>.Instance);
        var expected = DemoCandles.Generate(Anchor).Count(r => r.Candle.Symbol == "BTCUSDT" && r.Timeframe.Name == "1h");
        var summary = await reader.SummarizeAsync(new SeriesKey("BTCUSDT", Timeframe.Parse("1h")), Anchor.AddYears(-2), Anchor, TestContext.Current.CancellationToken);
        Assert.Equal(expected, summary.Value.Rows);
        Assert.Equal(expected - 1, summary.Value.DistinctOpenTimes);
    }

    public void Dispose()
    {
        CandleDatabases.RemoveDirectory(_directory);
    }
}
