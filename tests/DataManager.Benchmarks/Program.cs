using BenchmarkDotNet.Running;
using DataManager.Benchmarks;

// Load runs measure whole paths against real servers; everything else is BenchmarkDotNet.
return args switch
{
    ["audit-load", ..] => await AuditLoadRun.RunAsync(args),
    ["tracker-load", ..] => await TrackerLoadRun.RunAsync(args),
    ["backfill-load", ..] => await BackfillLoadRun.RunAsync(args),
    ["analytics-load", ..] => await AnalyticsLoadRun.RunAsync(args),
    ["parser-instructions", ..] => ParserInstructionRun.Run(args),
    _ => RunBenchmarks(args),
};

static int RunBenchmarks(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(EmbeddedStoreBenchmarks).Assembly).Run(args);
    return 0;
}
