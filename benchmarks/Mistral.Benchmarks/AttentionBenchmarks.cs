using BenchmarkDotNet.Attributes;
using Mistral.Interop;

namespace Mistral.Benchmarks;

/// <summary>
/// Causal GQA attention of one Mistral 7B layer (32 query heads, 8 KV heads, head_dim 128) through the kernel
/// mst_decode runs, on the calling thread: a prompt of <see cref="Tokens"/> into an empty cache (prefill), and one
/// token over <see cref="Cached"/> cached keys (decode). Seeded data, so runs compare.
/// </summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private const int Heads = 32, KvHeads = 8, HeadDim = 128;
    private float[] _q = [], _k = [], _v = [], _out = [];

    /// <summary>"prefill N": N new tokens over themselves; "decode N": 1 new token over N keys.</summary>
    [Params("prefill 512", "decode 4096")]
    public string Case { get; set; } = "";

    private bool Prefill => Case.StartsWith("prefill", StringComparison.Ordinal);

    private int Tokens => Prefill ? Cached : 1;

    private int Cached => int.Parse(Case[(Case.IndexOf(' ', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(11);
        float[] Fill(int n)
        {
            var a = new float[n];
            for (var i = 0; i < n; i++) a[i] = (float)(random.NextDouble() * 2 - 1);
            return a;
        }

        _q = Fill(Tokens * Heads * HeadDim);
        _k = Fill(Cached * KvHeads * HeadDim);
        _v = Fill(Cached * KvHeads * HeadDim);
        _out = new float[_q.Length];
    }

    [Benchmark]
    public unsafe void Attention()
    {
        fixed (float* q = _q)
        fixed (float* k = _k)
        fixed (float* v = _v)
        fixed (float* o = _out)
        {
            var status = NativeMethods.mst_kernel_attention((int)mst_impl.MST_IMPL_BEST, q, k, v, (uint)Tokens,
                (uint)(Cached - Tokens), (uint)Cached, Heads, KvHeads, HeadDim, 0, o);
            if (status != mst_status.MST_OK) throw new InvalidOperationException(status.ToString());
        }
    }
}
