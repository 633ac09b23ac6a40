using DataManager.Cli;
using DataManager.Hosting;
using Serilog;

// A verb, help, or a bad argument ends here; only a plain start (settings as --NAME value) runs the host.
if (await Verbs.RunAsync(args) is { } exitCode)
{
    return exitCode;
}

Log.Logger = DataManagerLogging.CreateBootstrapLogger();
try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddDataManager();
    var app = builder.Build();
    app.MapDataManager();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is InvalidConfigurationException || DataManagerConfiguration.Failures(e).Any())
{
    var errors = e is InvalidConfigurationException invalid ? invalid.Errors : [.. DataManagerConfiguration.Failures(e)];
    foreach (var error in errors)
    {
        Log.Fatal("Invalid configuration: {Error:l}", error);
    }

    return 2;
}
catch (Exception e)
{
    // One line with the cause (the port taken, say); the stack trace only at debug level.
    Log.Debug(e, "DataManager failed to start");
    Log.Fatal("DataManager failed to start: {Cause:l}", e.Message);
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
