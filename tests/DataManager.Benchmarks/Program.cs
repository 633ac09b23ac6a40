using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(DataManager.Benchmarks.EmbeddedStoreBenchmarks).Assembly).Run(args);
