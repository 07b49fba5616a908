using System.Globalization;
using Mistral.Gguf;
using Mistral.Tests.Models;
using Mistral.Tests.Reference;
using NUnit.Framework;

namespace Mistral.Tests.Differential;

/// <summary>
/// The F16 KV cache, the default of every session on the CPU: against an F32 cache on the same model (logits
/// within <see cref="FloatActivationBound"/> or <see cref="RoundedActivationBound"/>, greedy ids identical) and
/// against the double-precision reference, on the tiny random-weight models of <see cref="NativeVsReferenceTests"/>,
/// a rolling sliding-window cache included. The kernels themselves are held to their reference bit for bit and to
/// 1e-5 in the native test_kv_f16 (ctest), which also checks that the cache takes half the bytes.
/// </summary>
[TestFixture]
public sealed class F16KvCacheTests
{
    /// <summary>
    /// Per logit, |F16 − F32| ≤ 5e-3 · max(1, max |logit|) where the matmuls take float activations. Why: rounding
    /// to a half moves each K and V value by at most u = 2^-11 ≈ 4.9e-4 relative. V's error reaches the attention
    /// output as at most u · max|v| (the softmax weights sum to 1); K's moves each score q·k/√d by at most
    /// u · Σ|q_i k_i|/√d, which moves the weights by at most twice that in total: ≲ 4u · max|v| at these models'
    /// scores. So ≲ 5u relative per layer at the attention output, carried through W_o into the residual stream
    /// (the rest of a layer and the output projection have gains of order 1): ≲ 10u ≈ 5e-3 after two layers. The same
    /// analysis and bound as the CUDA backend's F16 cache (<c>NativeVsReferenceTests.CudaKvTolerance</c>). A wrong
    /// slot, head or stride, or halves read as garbage, moves logits by O(0.1..1).
    /// </summary>
    private const double FloatActivationBound = 5e-3;

    /// <summary>
    /// For weights whose activations are rounded before the matmul (Q8_0/Q4_0 to Q8_0 blocks, K-quants to Q8_K
    /// blocks, BF16 to bf16): the cache's perturbation flips some of those roundings by one step, an error of the
    /// kind and size of activation rounding itself, so the float-vs-rounded-activation bound
    /// (<c>NativeVsReferenceTests.ApproximationTolerance</c>, 5e-2).
    /// </summary>
    private const double RoundedActivationBound = 5e-2;

    private const int Threads = 2;

    private static readonly Dictionary<string, TinyModelSpec> Cases = new(StringComparer.Ordinal)
    {
        ["F32"] = TinyModelSpec.Odd(GgmlType.F32),
        ["F16"] = TinyModelSpec.Odd(GgmlType.F16),
        ["F32_nemo_style"] = TinyModelSpec.NemoStyle(GgmlType.F32),
        ["F32_moe"] = TinyModelSpec.Odd(GgmlType.F32).WithExperts(4, 2),
        ["Q8_0"] = TinyModelSpec.BlockAligned(GgmlType.Q8_0),
        ["Q4_0"] = TinyModelSpec.BlockAligned(GgmlType.Q4_0),
        ["Q4_K_M"] = TinyModelSpec.Q4_K_M(),
    };

    private static readonly HashSet<string> FloatActivationCases = new(StringComparer.Ordinal) { "F32", "F16", "F32_nemo_style", "F32_moe" };

    public static IEnumerable<string> CaseNames => Cases.Keys;

    private static double Bound(string caseName) =>
        FloatActivationCases.Contains(caseName) ? FloatActivationBound : RoundedActivationBound;

    private static readonly int[] Prompt = [TinyModelFactory.BosId, 270, 5, 299, 260, 140, 33, 201, 88, 17];
    private const int Steps = 12;

    private static MistralSession Session(MistralModel model, KvCacheType type, int? contextLength = null, int? batchSize = null) =>
        model.CreateSession(new SessionOptions { KvCacheType = type, ContextLength = contextLength, BatchSize = batchSize });

    [Test]
    public void Sessions_hold_an_F16_cache_unless_asked_for_F32()
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases["F32"]);
        using MistralModel model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = Threads, Backend = MistralBackend.Cpu });
        using MistralSession byDefault = model.CreateSession();
        using MistralSession f32 = Session(model, KvCacheType.F32);
        Assert.Multiple(() =>
        {
            Assert.That(new SessionOptions().KvCacheType, Is.EqualTo(KvCacheType.F16));
            Assert.That(byDefault.KvCacheType, Is.EqualTo(KvCacheType.F16));
            Assert.That(f32.KvCacheType, Is.EqualTo(KvCacheType.F32));
        });
    }

    /// <summary>A 10-token prompt in one call (every position), then single steps: F16 against F32 and the reference.</summary>
    [TestCaseSource(nameof(CaseNames))]
    public void F16_cache_logits_stay_within_the_bound_of_the_F32_cache_and_the_reference(string caseName)
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = Threads, Backend = MistralBackend.Cpu });
        using MistralSession f16 = Session(model, KvCacheType.F16);
        using MistralSession f32 = Session(model, KvCacheType.F32);
        ReferenceModel reference = tiny.CreateReference();
        int vocab = tiny.Spec.VocabSize;
        double bound = Bound(caseName);

        var (vsF32, vsReference) = Compare(f16, f32, reference, vocab, bound, Steps, caseName);

        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{caseName}: F16 vs F32 cache {vsF32.Relative:E2} relative, F16 vs reference {vsReference.Relative:E2} (bound {bound:E0}) over {Prompt.Length + Steps} positions"));
        Assert.That(vsF32.Relative, Is.GreaterThan(0), "the F16 session gave the F32 session's logits bit for bit: is the cache really F16?");
    }

    /// <summary>
    /// 24 greedy tokens: identical ids with either cache. Where activations are rounded (their logit error is ten times
    /// larger) the two runs may part at a near tie: a step where the F32 run's top logit is within twice the bound
    /// (each logit may be off by the bound) of the one the F16 run chose; then the histories differ and the check ends.
    /// </summary>
    [TestCaseSource(nameof(CaseNames))]
    public void Greedy_ids_are_the_same_with_either_cache(string caseName)
    {
        const int count = 24;
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = Threads, Backend = MistralBackend.Cpu });
        var options = new GenerationOptions { MaxTokens = count, Temperature = 0, AddBos = false };
        List<int> idsF16, idsF32;
        using (MistralSession f16 = Session(model, KvCacheType.F16))
            idsF16 = f16.GenerateTokens(Prompt, options).ToList();
        using (MistralSession f32 = Session(model, KvCacheType.F32))
            idsF32 = f32.GenerateTokens(Prompt, options).ToList();
        TestContext.Out.WriteLine($"{caseName}: F16 [{string.Join(' ', idsF16)}]");
        TestContext.Out.WriteLine($"{caseName}: F32 [{string.Join(' ', idsF32)}]");
        if (idsF16.SequenceEqual(idsF32))
            return;

        Assert.That(FloatActivationCases, Does.Not.Contain(caseName), "float activations: the ids must be identical");
        int step = 0;
        while (step < Math.Min(idsF16.Count, idsF32.Count) && idsF16[step] == idsF32[step])
            step++;
        // Replay the common history on an F32 session to read the logits both runs chose from.
        using MistralSession replay = Session(model, KvCacheType.F32);
        float[] logits = replay.Evaluate([.. Prompt, .. idsF32.Take(step)]);
        int chosenF32 = step < idsF32.Count ? idsF32[step] : TinyModelFactory.EosId;
        int chosenF16 = step < idsF16.Count ? idsF16[step] : TinyModelFactory.EosId;
        double margin = logits[chosenF32] - logits[chosenF16];
        double allowed = 2 * Bound(caseName) * Math.Max(1.0, logits.Max(MathF.Abs));
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{caseName}: parted at step {step} ({chosenF32} with F32, {chosenF16} with F16), {margin:E2} apart (near tie within {allowed:E2})"));
        Assert.That(margin, Is.LessThanOrEqualTo(allowed), $"{caseName}: the runs parted at step {step} where the choice was no near tie");
    }

    /// <summary>
    /// Window 4 on a rolling cache (ContextLength 8, batch 2: 5 rows per layer): a 10-token prompt and 20 steps past
    /// the context length, F16 against F32 and against the reference (which keeps the whole history).
    /// </summary>
    [TestCase("F32")]
    [TestCase("Q4_0")]
    public void A_rolling_F16_cache_past_the_context_length_matches_F32_and_the_reference(string caseName)
    {
        const int window = 4, steps = 20;
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName] with { SlidingWindow = window });
        using MistralModel model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = Threads, Backend = MistralBackend.Cpu });
        using MistralSession f16 = Session(model, KvCacheType.F16, contextLength: 8, batchSize: 2);
        using MistralSession f32 = Session(model, KvCacheType.F32, contextLength: 8, batchSize: 2);
        Assert.That((f16.CacheSlots, f16.PositionLimit), Is.EqualTo((window + 2 - 1, int.MaxValue)), "F16 rolls like F32");
        ReferenceModel reference = tiny.CreateReference();
        int vocab = tiny.Spec.VocabSize;
        double bound = Bound(caseName);

        var (vsF32, vsReference) = Compare(f16, f32, reference, vocab, bound, steps, $"{caseName} rolling");

        Assert.That(f16.Position, Is.EqualTo(Prompt.Length + steps));
        Assert.That(f16.CacheSlots, Is.EqualTo(window + 2 - 1), "the cache did not grow");
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{caseName}: window {window}, 5 rows, {Prompt.Length + steps} positions: F16 vs F32 {vsF32.Relative:E2}, vs reference {vsReference.Relative:E2} (bound {bound:E0})"));
    }

    /// <summary>
    /// The prompt in one call (every position's logits), then single steps: the F16 session against the F32 session
    /// and the reference, each within <paramref name="bound"/>; returns the worst differences seen.
    /// </summary>
    private static (Worst VsF32, Worst VsReference) Compare(MistralSession f16, MistralSession f32, ReferenceModel reference,
        int vocab, double bound, int steps, string label)
    {
        var vsF32 = new Worst();
        var vsReference = new Worst();
        float[] a = f16.Evaluate(Prompt, allLogits: true), b = f32.Evaluate(Prompt, allLogits: true);
        double[][] expected = reference.Forward(Prompt);
        for (int t = 0; t < Prompt.Length; t++)
        {
            vsF32.Check(a.AsSpan(t * vocab, vocab), ToDoubles(b.AsSpan(t * vocab, vocab)), bound, $"{label} prompt position {t} vs F32 cache");
            vsReference.Check(a.AsSpan(t * vocab, vocab), expected[t], bound, $"{label} prompt position {t} vs reference");
        }

        for (int i = 0; i < steps; i++)
        {
            int token = 3 + (i * 37 % 290);
            float[] stepF16 = f16.Evaluate([token]), stepF32 = f32.Evaluate([token]);
            vsF32.Check(stepF16, ToDoubles(stepF32), bound, $"{label} step at position {Prompt.Length + i} vs F32 cache");
            vsReference.Check(stepF16, reference.Forward(token), bound, $"{label} step at position {Prompt.Length + i} vs reference");
        }
        return (vsF32, vsReference);
    }

    private static double[] ToDoubles(ReadOnlySpan<float> x)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            d[i] = x[i];
        return d;
    }

    /// <summary>Asserts rows against a relative bound and keeps the worst relative error seen.</summary>
    private sealed class Worst
    {
        public double Relative { get; private set; }

        public void Check(ReadOnlySpan<float> actual, double[] expected, double bound, string what)
        {
            Assert.That(actual.Length, Is.EqualTo(expected.Length), what);
            double scale = 1.0, error = 0.0;
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.That(float.IsFinite(actual[i]), Is.True, $"{what}: logit {i} is {actual[i]}");
                scale = Math.Max(scale, Math.Abs(expected[i]));
                error = Math.Max(error, Math.Abs(actual[i] - expected[i]));
            }

            Relative = Math.Max(Relative, error / scale);
            Assert.That(error, Is.LessThanOrEqualTo(bound * scale), $"{what}: max |Δlogit| {error:E3} exceeds {bound:E0} × {scale:F3}");
        }
    }
}
