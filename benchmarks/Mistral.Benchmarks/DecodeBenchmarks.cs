using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Mistral.Gguf;

namespace Mistral.Benchmarks;

/// <summary>
/// End to end on a synthetic model: one decode step (a token in, logits out) and a 128-token prefill.
/// Monitoring strategy, because each iteration changes the KV cache and must be reset.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, iterationCount: 10, invocationCount: 16)]
public class DecodeBenchmarks
{
    private string _path = "";
    private MistralModel? _model;
    private MistralSession? _session;
    private int[] _prompt = [];
    private readonly int[] _token = [42];
    private float[] _logits = [];

    [Params(GgmlType.Q4_0, GgmlType.Q8_0)]
    public GgmlType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"mistral-bench-{Type}-{Environment.ProcessId}.gguf");
        SyntheticModel.Write(_path, new SyntheticModelSpec { WeightType = Type, EmbeddingLength = 1024, FeedForwardLength = 3584, LayerCount = 4 });
        _model = MistralModel.Load(_path, new ModelOptions { Threads = Environment.ProcessorCount, ContextLength = 1024 });
        _session = _model.CreateSession();
        _logits = new float[_model.Config.VocabSize];
        _prompt = Enumerable.Range(0, 128).Select(i => 300 + i).ToArray();
    }

    [IterationSetup]
    public void ResetCache() => _session!.Reset();

    [Benchmark]
    public float DecodeStep()
    {
        _session!.Evaluate(_token, _logits); // the allocation-free overload: MemoryDiagnoser shows 0 B
        return _logits[0];
    }

    [Benchmark]
    public float Prefill128() => _session!.Evaluate(_prompt)[0];

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _model?.Dispose();
        File.Delete(_path);
    }
}
