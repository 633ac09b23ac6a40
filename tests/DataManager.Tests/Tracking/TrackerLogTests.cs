using System.Text;
using DataManager.Configuration;
using DataManager.Tests.Infrastructure;
using DataManager.Tracking;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;
using Prometheus;

namespace DataManager.Tests.Tracking;

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
        for (var i = 0; i < 100 && logger.Lines.Count == 0; i++)
        {
            await Task.Delay(20, Ct);
        }

        await using var publisher = new NatsConnection(new NatsOpts { Url = nats.Url });
        for (var i = 0; i < 200; i++)
        {
            await publisher.PublishAsync(subject, Encoding.UTF8.GetBytes(i % 2 == 0 ? "garbage " + i : "{\"stream\":\"x\"}"), cancellationToken: Ct);
        }

        await publisher.PingAsync(Ct);
        for (var i = 0; i < 200 && stats.TotalInvalid < 200; i++)
        {
            await Task.Delay(20, Ct);
        }

        Assert.Equal(200, stats.TotalInvalid);
        Assert.Single(logger.Lines); // only "Tracking …" so far

        time.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 100 && logger.Lines.Count < 2; i++)
        {
            await Task.Delay(20, Ct);
        }

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
