using BenchmarkDotNet.Attributes;
using Mistral.Gguf;
using Mistral.Interop;

namespace Mistral.Benchmarks;

/// <summary>
/// The perf gate's small, fixed set (see PerfGate.cs): the decode GEMV and a 16-token GEMM on Q4_0 and Q8_0
/// through the kernel mst_decode runs (activation quantization included), single-threaded, and one whole
/// decode step of a small synthetic model, allocation-free (MemoryDiagnoser must show 0 B for it).
/// Seeded data and odd sizes, so runs compare with the stored baseline.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class PerfGateBenchmarks
{
    private byte[] _weights = [];
    private float[] _x = [];
    private float[] _y = [];
    private string _path = "";
    private MistralModel? _model;
    private MistralSession? _session;
    private float[] _logits = [];
    private readonly int[] _token = [42];

    [Params("Q4_0 4093x4096 t1", "Q8_0 4093x4096 t1", "Q4_0 4093x4096 t16")]
    public string Case { get; set; } = "";

    private GgmlType Type => Case.StartsWith("Q4_0", StringComparison.Ordinal) ? GgmlType.Q4_0 : GgmlType.Q8_0;

    private int Tokens => Case.EndsWith("t16", StringComparison.Ordinal) ? 16 : 1;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        var values = new float[4093 * 4096];
        for (var i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        _weights = GgmlQuantization.Quantize(Type, values);
        _x = new float[Tokens * 4096];
        for (var i = 0; i < _x.Length; i++) _x[i] = (float)(random.NextDouble() * 2 - 1);
        _y = new float[Tokens * 4093];

        _path = Path.Combine(Path.GetTempPath(), $"mistral-gate-{Environment.ProcessId}.gguf");
        SyntheticModel.Write(_path, new SyntheticModelSpec { WeightType = Type, EmbeddingLength = 1024, FeedForwardLength = 3584, LayerCount = 2 });
        _model = MistralModel.Load(_path, new ModelOptions { Threads = 1, ContextLength = 4096 });
        _session = _model.CreateSession();
        _logits = new float[_model.Config.VocabSize];
    }

    [Benchmark]
    public unsafe void Matmul()
    {
        fixed (byte* w = _weights)
        fixed (float* x = _x)
        fixed (float* y = _y)
        {
            var status = NativeMethods.mst_kernel_matmul((int)mst_impl.MST_IMPL_BEST, (int)Type, w, (ulong)_weights.Length,
                4093, 4096, x, (uint)Tokens, y);
            if (status != mst_status.MST_OK) throw new InvalidOperationException(status.ToString());
        }
    }

    /// <summary>One token in, logits out, at positions 0..255 (reset every 256 steps, so the attention
    /// length, and with it the time, does not drift with the number of invocations).</summary>
    [Benchmark]
    public float DecodeStep()
    {
        if (_session!.Position >= 256) _session.Reset();
        _session.Evaluate(_token, _logits);
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
