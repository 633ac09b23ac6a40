using BenchmarkDotNet.Running;
using DataManager.Benchmarks;

// Load runs measure whole paths against real servers; everything else is BenchmarkDotNet.
return args is ["audit-load", ..]
    ? await AuditLoadRun.RunAsync(args)
    : RunBenchmarks(args);

static int RunBenchmarks(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(EmbeddedStoreBenchmarks).Assembly).Run(args);
    return 0;
}
