using System.CommandLine;
using System.CommandLine.Help;
using System.Text.RegularExpressions;

namespace DataManager.Cli;

/// <summary>What a verb runs against: the configuration, the two output streams and the clock.</summary>
public sealed record VerbContext(IConfiguration Configuration, TextWriter Output, TextWriter Errors, TimeProvider Time);

/// <summary>
/// The executable's command line (System.CommandLine): with no verb it runs the service, which takes its
/// settings as <c>--NAME value</c> too; a verb runs one job in the foreground and exits with its code.
/// <c>--help</c>, <c>-h</c> and <c>help</c> print the verbs and exit 0; an unknown verb or option exits 2
/// naming it. Exit codes: 0 done, 1 the verb's own failure, 2 bad arguments or configuration, 3 a dependency
/// unreachable.
/// </summary>
public static partial class Verbs
{
    private const string HelpVerb = "help";

    public const int BadArguments = 2;

    /// <summary>The verbs, as the messages about an unknown one list them.</summary>
    public const string VerbNames = "audit, backfill, feed, report and help";

    public const string ServiceDescription =
        "DataManager: audits, backfills and analyses the extractor's candles and tracks the NATS feed. With no verb it runs the service "
        + "(HTTP on API_PORT); settings come from environment variables, or as --NAME value / --NAME=value with the same names (e.g. --API_PORT 8001).";

    // ASP.NET Core's own host settings, read from the command line by WebApplication.CreateBuilder.
    private static readonly string[] HostKeys = ["urls", "environment", "contentRoot", "applicationName", "http_ports", "https_ports"];

    private static readonly ParserConfiguration Parsing = new()
    {
        EnablePosixBundling = false,
        ResponseFileTokenReplacer = null, // an argument starting with @ is a value, not a file to expand
    };

    /// <summary>
    /// Runs the verb <paramref name="args"/> name and returns its exit code, or null when they ask for the service:
    /// Program.cs then starts the host with the same arguments.
    /// </summary>
    public static async Task<int?> RunAsync(string[] args)
    {
        if (args.Length == 0)
        {
            return null;
        }

        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler stop = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += stop;
        try
        {
            return await RunAsync(args, new VerbContext(configuration, Console.Out, Console.Error, TimeProvider.System), cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= stop; // the service, if it runs, has its own Ctrl+C handling
        }
    }

    public static async Task<int?> RunAsync(string[] args, VerbContext context, CancellationToken cancellationToken)
    {
        var root = CreateRoot(context);
        var parsed = root.Parse(args, Parsing);
        var verb = parsed.CommandResult.Command;
        var runsService = verb == root && parsed.Action == root.Action;
        // Unmatched tokens are allowed on the root only (the service's settings); a verb's are errors.
        var problems = parsed.Errors.Select(e => e.Message).ToList();
        if (runsService && HostArgumentProblem(parsed.UnmatchedTokens) is { } hostProblem)
        {
            problems.Add(hostProblem);
        }
        else if (verb != root)
        {
            problems.AddRange(parsed.UnmatchedTokens.Select(t => $"unknown option or argument '{t}'"));
        }

        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                await context.Errors.WriteLineAsync($"{verb.Name}: {problem}");
            }

            await context.Errors.WriteLineAsync(verb == root || verb.Name == HelpVerb ? $"Try '{root.Name} --help'." : $"Try '{root.Name} {verb.Name} --help'.");
            return BadArguments;
        }

        if (runsService)
        {
            return null;
        }

        if (verb == root && parsed.Action is HelpAction)
        {
            return await WriteRootHelpAsync(parsed, context);
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = context.Output, Error = context.Errors, EnableDefaultExceptionHandler = false }, cancellationToken);
    }

    /// <summary>
    /// A verb's settings, bound once; null after one "Invalid configuration: ..." line per bad setting (the verb exits 2).
    /// A verb that keeps the embedded store or reads the embedded demo candles needs DATA_DIR, as the service does.
    /// </summary>
    public static async Task<Hosting.DataManagerSettings?> BindSettingsAsync(VerbContext context, bool usesStore, bool usesCandles)
    {
        var settings = Hosting.DataManagerSettings.Bind(context.Configuration);
        if (await ReportInvalidAsync(settings, context.Errors))
        {
            return null;
        }

        var needsDataDir = (usesStore && !settings.Store.UsesMongo) || (usesCandles && settings.Candles.IsEmbedded);
        if (needsDataDir && Hosting.DataDirectory.Unusable(settings.Service.DataDir) is { } unusable)
        {
            await context.Errors.WriteLineAsync("Invalid configuration: " + unusable);
            return null;
        }

        return settings;
    }

    /// <summary>Writes one "Invalid configuration: ..." line per bad setting; true when there was one (the verb exits 2).</summary>
    public static async Task<bool> ReportInvalidAsync(Hosting.DataManagerSettings settings, TextWriter errors)
    {
        foreach (var error in settings.Errors)
        {
            await errors.WriteLineAsync("Invalid configuration: " + error);
        }

        return settings.Errors.Count > 0;
    }

    /// <summary>Parses <paramref name="args"/> as the arguments of one verb (what tests and scripts call directly).</summary>
    public static async Task<int> RunVerbAsync(string verb, string[] args, VerbContext context, CancellationToken cancellationToken) =>
        await RunAsync([verb, .. args], context, cancellationToken) ?? BadArguments;

    private static RootCommand CreateRoot(VerbContext context)
    {
        var root = new RootCommand(ServiceDescription)
        {
            AuditCommand.Create(context),
            BackfillCommand.Create(context),
            FeedCommand.Create(context),
            ReportCommand.Create(context),
        };
        root.TreatUnmatchedTokensAsErrors = false; // the service's own settings; checked in HostArgumentProblem
        root.SetAction(_ => 0); // the service: Program.cs starts the host
        var helpVerb = new Command(HelpVerb, "Show this help, or a verb's: help audit");
        var about = new Argument<string?>("verb") { Arity = ArgumentArity.ZeroOrOne, Description = "audit, backfill, feed or report" };
        string[] verbs = [.. root.Subcommands.Select(c => c.Name)];
        about.AcceptOnlyFromAmong(verbs); // for the help's "help <audit|backfill|feed|report>" and completions
        about.Validators.Clear(); // its message ("Argument 'x' not recognized") does not say a verb was expected
        about.Validators.Add(result =>
        {
            if (result.Tokens is [{ Value: var token }] && token != HelpVerb && !verbs.Contains(token, StringComparer.Ordinal))
            {
                result.AddError(UnknownVerb(token));
            }
        });
        helpVerb.Add(about);
        helpVerb.SetAction((parsed, cancellationToken) =>
        {
            var verb = parsed.GetValue(about);
            return verb is null or HelpVerb
                ? WriteRootHelpAsync(root.Parse(["--help"], Parsing), context)
                : root.Parse([verb, "--help"], Parsing).InvokeAsync(new InvocationConfiguration { Output = context.Output, Error = context.Errors }, cancellationToken);
        });
        root.Add(helpVerb);
        return root;
    }

    /// <summary>
    /// With no verb, what remains are the service's settings, as ASP.NET reads them from the command line:
    /// <c>--NAME value</c> or <c>--NAME=value</c>, NAME a setting (like the environment variables),
    /// a configuration path with <c>:</c>, or one of ASP.NET's host keys. Anything else is an unknown verb or
    /// option: the service must not start (and perhaps become leader) on a typo.
    /// </summary>
    private static string? HostArgumentProblem(IReadOnlyList<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (!token.StartsWith("--", StringComparison.Ordinal))
            {
                return UnknownVerb(token);
            }

            var equals = token.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? token[2..] : token[2..equals];
            if (!IsSettingName(name))
            {
                return $"unknown option '{token}' (the service's settings are named like the environment variables: --API_PORT 8001)";
            }

            if (equals < 0 && ++i >= tokens.Count)
            {
                return $"{token} needs a value";
            }
        }

        return null;
    }

    private static string UnknownVerb(string token) => $"unknown verb '{token}' (the verbs are {VerbNames})";

    /// <summary>
    /// The root's help as System.CommandLine writes it, with a correct usage line: for a root that keeps unmatched
    /// tokens it writes "[[--] &lt;additional arguments&gt;...]]" (one bracket too many) and calls them arguments
    /// "passed to the application"; here they are the service's settings.
    /// </summary>
    private static async Task<int> WriteRootHelpAsync(ParseResult help, VerbContext context)
    {
        using var buffer = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var code = await help.InvokeAsync(new InvocationConfiguration { Output = buffer, Error = context.Errors });
        await context.Output.WriteAsync(RootHelp(buffer.ToString()));
        return code;
    }

    private static string RootHelp(string generated)
    {
        var text = AdditionalArgumentsUsage().Replace(generated, "$1 [command] [options]" + Environment.NewLine + "$1 [--NAME value ...]", 1);
        return AdditionalArgumentsSection().Replace(text, "Settings of the service (no command):" + Environment.NewLine
            + "  --NAME value, --NAME=value  NAME as the environment variable (--API_PORT 8001), a configuration path with ':', "
            + "or ASP.NET's --urls, --environment, --contentRoot, --applicationName" + Environment.NewLine, 1);
    }

    [GeneratedRegex(@"^([ \t]+\S+) \[command\] \[options\] \[\[--\] <additional arguments>\.\.\.\]\]\r?$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex AdditionalArgumentsUsage();

    [GeneratedRegex(@"^Additional Arguments:\r?\n(?:[ \t]+\S.*\r?\n)+", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex AdditionalArgumentsSection();

    // Configuration keys ignore case, so --api_port works like --API_PORT; a word without an underscore must be
    // upper case to count as a setting (HOSTNAME), so that --frobnicate is an unknown option.
    private static bool IsSettingName(string name) =>
        SettingName().IsMatch(name) || name.Contains(':', StringComparison.Ordinal) || HostKeys.Contains(name, StringComparer.OrdinalIgnoreCase);

    [GeneratedRegex(@"^([A-Z][A-Z0-9_]*|[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)+)\z", RegexOptions.CultureInvariant)]
    private static partial Regex SettingName();
}
