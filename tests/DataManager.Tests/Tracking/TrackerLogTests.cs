using System.Text;
using DataManager.Configuration;
using DataManager.Testing;
using DataManager.Tests.Infrastructure;
using DataManager.Tracking;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;
using Prometheus;

namespace DataManager.Tests.Tracking;

[Trait("Category", "Server")]
public sealed class TrackerLogTests(NatsServer nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Invalid_input_is_logged_as_one_summary_a_minute_never_per_message()
    {
        nats.Require();
        var subject = "test.logs." + Guid.NewGuid().ToString("N")[..8];
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logger = new RecordingLogger<MessageTracker>();
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        await connection.ConnectAsync();
        var stats = new TrackerStats(["BTCUSDT"], trackAllSymbols: false, new TrackerMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())));
        using var tracker = new MessageTracker(connection, stats, Options.Create(new NatsOptions { Subject = subject, QueueGroup = "" }), time, logger);
        await tracker.StartAsync(Ct);
        await nats.WaitForSubscriberAsync(subject);

        await using var publisher = new NatsConnection(new NatsOpts { Url = nats.Url });
        for (var i = 0; i < 200; i++)
        {
            await publisher.PublishAsync(subject, Encoding.UTF8.GetBytes(i % 2 == 0 ? "garbage " + i : "{\"stream\":\"x\"}"), cancellationToken: Ct);
        }

        await publisher.PingAsync(Ct);
        await Eventually.UntilAsync("the tracker has counted 200 invalid messages", () => stats.TotalInvalid >= 200, TimeSpan.FromMinutes(1),
            seen: () => $"{stats.TotalInvalid} invalid", cancellationToken: Ct);
        Assert.Equal(200, stats.TotalInvalid);
        Assert.Single(logger.Lines); // only "Tracking …" so far

        time.Advance(TimeSpan.FromMinutes(1));
        await Eventually.UntilAsync("the minute's summary is logged", () => logger.Lines.Count >= 2, TimeSpan.FromMinutes(1),
            seen: () => string.Join(" | ", logger.Lines), cancellationToken: Ct);

        var summary = Assert.Single(logger.Lines, l => l.Contains("invalid feed messages", StringComparison.Ordinal));
        Assert.Contains("200 invalid feed messages", summary, StringComparison.Ordinal);
        Assert.Contains("not_json=100", summary, StringComparison.Ordinal);
        Assert.Contains("no_data=100", summary, StringComparison.Ordinal);
        Assert.Contains("sample: not_json: garbage 0", summary, StringComparison.Ordinal);

        time.Advance(TimeSpan.FromMinutes(1)); // nothing new: no line
        await Task.Delay(200, Ct);
        Assert.Equal(2, logger.Lines.Count);
        await tracker.StopAsync(Ct);
    }
}
