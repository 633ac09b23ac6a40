namespace DataManager.Cli;

/// <summary>The executable's verbs: with none it runs the service; a verb runs one job in the foreground and exits with its code.</summary>
public static class Verbs
{
    public static bool IsVerb(string[] args) => args is ["audit" or "feed" or "backfill", ..];

    public static async Task<int> RunAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return args[0] switch
        {
            "audit" => await AuditCommand.RunAsync(args[1..], configuration, Console.Out, Console.Error, TimeProvider.System, cancel.Token),
            "feed" => await FeedCommand.RunAsync(args[1..], configuration, Console.Out, Console.Error, cancel.Token),
            "backfill" => await BackfillCommand.RunAsync(args[1..], configuration, Console.Out, Console.Error, cancel.Token),
            _ => AuditCommand.BadArguments,
        };
    }
}
