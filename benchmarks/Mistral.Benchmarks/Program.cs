using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Mistral.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Mistral.Benchmarks.MatmulBenchmarks).Assembly).Run(args);
