using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Mistral.Gguf;

namespace Mistral.Benchmarks;

/// <summary>
/// A decode step (one token in, logits out) after <see cref="Context"/> tokens, with the KV cache in F16 (the default)
/// or F32: what the cache's element type costs or saves where decode reads it. The model has Mistral 7B's layer
/// shape (hidden 4096, 32 query heads over 8 KV heads of 128, FFN 14336, Q4_0) in 2 layers and a small vocabulary,
/// so that per layer the weights read (118 MB) and the cache read (8 KiB per token of context in F32, 4 KiB in F16:
/// 64 / 32 MiB at 8,192) stand to each other as in the 32-layer model, the output matrix (17 MB here) aside.
/// The cache is filled once (a prompt of <see cref="Context"/> tokens in the global setup); each iteration truncates
/// back to it and decodes 16 tokens, so every step attends to Context..Context+15 keys.
/// </summary>
/// <remarks>MISTRAL_CPU=avx2 in the environment runs it on the AVX2 kernels (dispatch.c), as on CPUs without AVX-512.</remarks>
[SimpleJob(RunStrategy.Monitoring, iterationCount: 10, invocationCount: 16)]
public class KvCacheDecodeBenchmarks
{
    private string _path = "";
    private MistralModel? _model;
    private MistralSession? _session;
    private readonly int[] _token = [42];
    private float[] _logits = [];

    [Params(512, 2048, 8192)]
    public int Context { get; set; }

    [Params(KvCacheType.F16, KvCacheType.F32)]
    public KvCacheType Kv { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"mistral-bench-kv-{Environment.ProcessId}.gguf");
        SyntheticModel.Write(_path, new SyntheticModelSpec
        {
            WeightType = GgmlType.Q4_0, EmbeddingLength = 4096, HeadCount = 32, KvHeadCount = 8, FeedForwardLength = 14336,
            LayerCount = 2, VocabSize = 4096, ContextLength = 16384,
        });
        _model = MistralModel.Load(_path, new ModelOptions { Threads = Environment.ProcessorCount });
        _session = _model.CreateSession(new SessionOptions { ContextLength = Context + 64, KvCacheType = Kv });
        _logits = new float[_model.Config.VocabSize];
        _session.Evaluate(Enumerable.Range(0, Context).Select(i => 300 + i % 3000).ToArray());
    }

    [IterationSetup]
    public void BackToContext() => _session!.Truncate(Context);

    [Benchmark]
    public float DecodeStep()
    {
        _session!.Evaluate(_token, _logits);
        return _logits[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _model?.Dispose();
        File.Delete(_path);
    }
}
