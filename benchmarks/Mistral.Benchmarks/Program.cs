using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Mistral.Benchmarks -- --filter '*'       every suite
// dotnet run -c Release --project benchmarks/Mistral.Benchmarks -- gate [--update]    the perf gate (PerfGate.cs)
if (args.Length > 0 && args[0] == "gate") return Mistral.Benchmarks.PerfGate.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(Mistral.Benchmarks.MatmulBenchmarks).Assembly).Run(args);
return 0;
