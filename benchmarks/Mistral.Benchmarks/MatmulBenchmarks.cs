using BenchmarkDotNet.Attributes;
using Mistral.Gguf;
using Mistral.Interop;

namespace Mistral.Benchmarks;

/// <summary>
/// The decode hot spot: one weight matrix times one activation vector (GEMV), and a small batch (prefill),
/// through the same native kernel mst_decode uses. Odd row counts and seeded data, so runs compare.
/// </summary>
[MemoryDiagnoser]
public class MatmulBenchmarks
{
    private byte[] _weights = [];
    private float[] _x = [];
    private float[] _y = [];

    // Q4_K/Q6_K: what Q4_K_M files use; BEST quantizes the activations to Q8_K blocks (as mst_decode does).
    [Params(GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.F16, GgmlType.Q4_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    [Params(1, 16)]
    public int Tokens { get; set; }

    public int Rows { get; set; } = 4093;

    public int Columns { get; set; } = 4096;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        var values = new float[Rows * Columns];
        for (var i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        _weights = GgmlQuantization.Quantize(Type, values);
        _x = new float[Tokens * Columns];
        for (var i = 0; i < _x.Length; i++) _x[i] = (float)(random.NextDouble() * 2 - 1);
        _y = new float[Tokens * Rows];
    }

    [Benchmark]
    public unsafe void Matmul()
    {
        fixed (byte* w = _weights)
        fixed (float* x = _x)
        fixed (float* y = _y)
        {
            var status = NativeMethods.mst_kernel_matmul((int)mst_impl.MST_IMPL_BEST, (int)Type, w, (ulong)_weights.Length,
                (uint)Rows, (uint)Columns, x, (uint)Tokens, y);
            if (status != mst_status.MST_OK) throw new InvalidOperationException(status.ToString());
        }
    }
}
