using DataManager.Configuration;
using Serilog;
using Serilog.Formatting.Compact;

namespace DataManager.Hosting;

public static class DataManagerLogging
{
    /// <summary>
    /// Logs until the host's logger exists, so a failed start (bad configuration) is still logged, in the host's
    /// format: one JSON event per line outside Development, as log shippers expect of every line.
    /// </summary>
    public static Serilog.ILogger CreateBootstrapLogger()
    {
        var logger = new LoggerConfiguration().MinimumLevel.Information();
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT");
        return (string.Equals(environment, Environments.Development, StringComparison.OrdinalIgnoreCase)
                ? logger.WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture)
                : logger.WriteTo.Console(new RenderedCompactJsonFormatter()))
            .CreateBootstrapLogger();
    }

    /// <summary>Compact JSON outside Development (one event per line for log shippers, with the message rendered); readable console in Development.</summary>
    public static WebApplicationBuilder AddDataManagerLogging(this WebApplicationBuilder builder, ServiceOptions options)
    {
        var development = builder.Environment.IsDevelopment();
        builder.Services.AddSerilog((services, logger) =>
        {
            logger.MinimumLevel.Is(options.LogLevel)
                .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("Microsoft.Extensions.Diagnostics.HealthChecks", Serilog.Events.LogEventLevel.Fatal)
                // The NATS client logs an error per reconnect attempt; NatsConnectionMonitor logs each change once.
                .MinimumLevel.Override("NATS", Serilog.Events.LogEventLevel.Fatal)
                // The host's own report of a failed start (with a stack trace): Program logs it as one line. And a
                // background service that ended by cancellation (the host disposed it after a failed start) is no fault.
                .Filter.ByExcluding(e => EventName(e) is "HostedServiceStartupFaulted"
                    || (EventName(e) is "BackgroundServiceFaulted" or "BackgroundServiceStoppingHost" && e.Exception is OperationCanceledException))
                .Enrich.FromLogContext()
                .Enrich.WithProperty("pod", options.PodId);
            if (development)
            {
                logger.WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                logger.WriteTo.Console(new RenderedCompactJsonFormatter());
            }
        });
        return builder;
    }

    private static string? EventName(Serilog.Events.LogEvent logEvent) =>
        logEvent.Properties.TryGetValue("EventId", out var id) && id is Serilog.Events.StructureValue structure
            ? structure.Properties.FirstOrDefault(p => p.Name == "Name")?.Value is Serilog.Events.ScalarValue { Value: string name } ? name : null
            : null;
}
