using BenchmarkDotNet.Attributes;
using Mistral.Gguf;
using Mistral.Interop;

namespace Mistral.Benchmarks;

/// <summary>
/// The perf gate's small, fixed set (see PerfGate.cs): the decode GEMV and a 16-token GEMM on Q4_0 and Q8_0
/// through the kernel mst_decode runs (activation quantization included), single-threaded, and one whole
/// decode step of a small synthetic model, allocation-free (MemoryDiagnoser must show 0 B for it).
/// Seeded data and odd sizes, so runs compare with the stored baseline. Two calibration probes run beside them
/// (<see cref="ReadProbe"/>, <see cref="ComputeProbe"/>): code of no concern to the gate, whose time tracks
/// the machine's state (clock, noisy neighbours, cache and memory speed), so each kernel is judged by its
/// ratio to the probe that bounds it rather than by nanoseconds alone (PerfGate.cs).
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

    /// <summary>Calibration for the memory-bound cases: one pass over the same weight bytes the GEMV reads,
    /// summed as 64-bit lanes on one thread (the kernels' thread count), so it sees the same cache level.</summary>
    [Benchmark]
    public ulong ReadProbe()
    {
        var lanes = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, System.Numerics.Vector<ulong>>(_weights);
        var a = System.Numerics.Vector<ulong>.Zero;
        var b = System.Numerics.Vector<ulong>.Zero;
        var i = 0;
        for (; i + 1 < lanes.Length; i += 2)
        {
            a += lanes[i];
            b += lanes[i + 1];
        }
        return System.Numerics.Vector.Sum(a + b);
    }

    /// <summary>Calibration for the compute-bound case (the 16-token GEMM): independent FMA chains on 256-bit
    /// registers, which run at the core's clock times its FMA width whatever the kernels do.</summary>
    [Benchmark]
    public float ComputeProbe()
    {
        if (!System.Runtime.Intrinsics.X86.Fma.IsSupported) return ScalarComputeProbe();
        var m = System.Runtime.Intrinsics.Vector256.Create(0.999f);
        var c = System.Runtime.Intrinsics.Vector256.Create(1e-3f);
        var a0 = System.Runtime.Intrinsics.Vector256.Create(1f);
        var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
        for (var i = 0; i < ComputeProbeSteps; i++)
        {
            a0 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a0, m, c);
            a1 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a1, m, c);
            a2 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a2, m, c);
            a3 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a3, m, c);
            a4 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a4, m, c);
            a5 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a5, m, c);
            a6 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a6, m, c);
            a7 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a7, m, c);
        }
        return System.Runtime.Intrinsics.Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }

    private const int ComputeProbeSteps = 1 << 18;

    private static float ScalarComputeProbe()
    {
        float a0 = 1, a1 = 1, a2 = 1, a3 = 1;
        for (var i = 0; i < ComputeProbeSteps; i++)
        {
            a0 = a0 * 0.999f + 1e-3f; a1 = a1 * 0.999f + 1e-3f; a2 = a2 * 0.999f + 1e-3f; a3 = a3 * 0.999f + 1e-3f;
        }
        return a0 + a1 + a2 + a3;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _model?.Dispose();
        File.Delete(_path);
    }
}
