using DataManager.Cli;
using DataManager.Hosting;
using Serilog;

if (Verbs.IsVerb(args))
{
    return await Verbs.RunAsync(args);
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
        Log.Fatal("Invalid configuration: {Error}", error);
    }

    return 2;
}
catch (Exception e)
{
    Log.Fatal(e, "DataManager failed to start");
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
