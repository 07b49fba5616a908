using System.Globalization;
using Mistral.Gguf;
using Mistral.Tests.Models;
using Mistral.Tests.Reference;
using Mistral.Tests.Support;
using NUnit.Framework;

namespace Mistral.Tests.Differential;

/// <summary>
/// The native core against the plain C# reference on tiny random-weight models written to GGUF by the test
/// itself: same file, same tokens, the logits must agree within <see cref="RelativeTolerance"/> and greedy
/// continuations must be identical. The CUDA backend (run on the SIMT emulator here, see <see cref="TestBackend"/>)
/// is held to the same reference on every case for the logits and greedy ids, and on a few for the window, batch
/// and truncation paths, within the bounds of <see cref="CudaKvTolerance"/>.
/// </summary>
/// <remarks>
/// Cases are passed by name (the spec lives in <see cref="Cases"/>) so test names read "Q4_0", "F16", …
/// and the internal spec types need not be public.
/// </remarks>
[TestFixture]
public sealed class NativeVsReferenceTests
{
    /// <summary>
    /// Asserted bound: max |Δlogit| ≤ RelativeTolerance · max(1, max |reference logit|) per position.
    /// Why this size: native and reference read identical (dequantized) weights, so the only difference is
    /// float32 arithmetic in the native core vs double here. A float32 dot product over n ≤ 96 terms is off by
    /// about 6e-8·√n ≈ 1e-6 relative; a few matmuls, two RMSNorms, softmax and SiLU per layer over 2 layers
    /// amplify that to around 1e-6..1e-5 relative on the logits. 1e-4 leaves an order of magnitude of margin
    /// while any real bug (wrong RoPE pairing or base, wrong KV head, missing norm weight, off-by-one
    /// position, wrong window) moves logits by O(0.1..1). Q4_0/Q8_0 matmuls in the native core round their
    /// input to Q8_0 blocks first, K-quant (Q2_K..Q6_K) ones to Q8_K blocks, BF16 ones to bf16 (as llama.cpp
    /// does); the reference created by <c>CreateReference()</c> rounds the same inputs by the same rules
    /// (<see cref="ReferenceModel.RoundToQ8_0Blocks"/>, <see cref="ReferenceModel.RoundToQ8_KBlocks"/>,
    /// <see cref="ReferenceModel.RoundToBf16"/>), so
    /// the integer block sums are identical and the same 1e-4 bound applies (float-activation rounding would
    /// be ~1e-2: see <see cref="ApproximationTolerance"/>). A rounding tie decided differently because the
    /// reference's activation differs from the native one in the last float bit would move one value by one
    /// step; the fixed Q8_0 seeds here do not hit one. The K-quant cases (more and wider activations, rounded
    /// in blocks of 256) do hit them, differently on each ISA, so the reference flags Q8_K near ties
    /// (<see cref="ReferenceModel.FirstNearTiePosition"/>) and positions from the flagged one on are held to
    /// <see cref="ApproximationTolerance"/> instead (ErrorTracker reports how many); all others stay at 1e-4.
    /// Observed on the 2-core AVX-512 dev machine: at most 4.4e-7 relative (2.0e-6 absolute on logits of
    /// magnitude ≤ 7.7) for every weight type and path, i.e. ~200× inside the bound; the K-quant cases (rows of
    /// 256/512) at most 6.4e-7 relative (K_mix_tied), 2.7e-7 for the others.
    /// </summary>
    private const double RelativeTolerance = 1e-4;

    /// <summary>
    /// Bound on native (Q8_0- or Q8_K-rounded activations) vs the float-activation reference for Q4_0/Q8_0
    /// and K-quant models (Q8_K: the same 1/254 of the block max per value, over blocks of 256):
    /// max |Δlogit| ≤ 2e-2 · max(1, max |logit|). Why: each rounded input carries a relative error of about
    /// 1/254 per value (half a step of amax/127), which averages down over a dot product to ~1e-3..5e-3 of the
    /// output; a handful of matmuls in 2 layers add up to ~1e-2. Q8_K blocks are 8 times wider (one scale per
    /// 256 values, so a larger step for most of them) and the K-quant models have wider rows. Observed (same on
    /// the scalar, AVX2 and AVX-512 paths): Q8_0/Q4_0 1.4e-2..1.7e-2, K-quants 1.7e-2..2.1e-2, the Q8_0 + K-quant
    /// mix 2.7e-2, hence 5e-2 (it was 2e-2 while only Q8_0/Q4_0 were checked here). That is
    /// the expected cost of the integer kernels, and a wrong scale, a lost block or an offset not removed moves
    /// logits by far more.
    /// </summary>
    private const double ApproximationTolerance = 5e-2;

    /// <summary>
    /// Bound on the CUDA backend vs the reference for float weights (F32, F16; activations not rounded):
    /// max |Δlogit| ≤ 5e-3 · max(1, max |logit|). Why: the CUDA backend stores the KV cache in f16, the reference
    /// (and the CPU backend) in f32/double. Rounding to f16 moves each K and V value by at most u = 2^-11 ≈ 4.9e-4
    /// relative. Through attention, V's error reaches the output as at most u · max|v| (the softmax weights sum to
    /// 1); K's error moves each score q·k/√d by at most u · Σ|q_i k_i|/√d, and a score shift δ moves the softmax
    /// weights by at most 2δ in total, so with this model's scores (|q·k|/√d of a few units) K adds ≲ 4u · max|v|.
    /// That is ≲ 5u relative per layer at the attention output, carried through W_o into the residual stream
    /// (the FFN, the RMSNorms and the output matmul have gains of order 1): ≲ 10u ≈ 5e-3 relative after two layers,
    /// the bound. Any real bug (a wrong head, RoPE pair, position or window) moves logits by O(0.1..1). The float32
    /// arithmetic differences (other reduction orders on the GPU) are ~1e-6, negligible beside it. Observed on the
    /// emulator: 1.3e-4..4.1e-4 relative (F32, F16, nemo style, window), i.e. about u, 12× inside the bound.
    /// For weights whose activations are rounded to 8-bit blocks or bf16 (Q8_0, Q4_0, K-quants, BF16) the f16
    /// cache's perturbation of the attention output flips some of those roundings by one step, an error of the same
    /// kind and size as activation rounding itself (measured: position 0 of Q4_0, before any flip, agrees to 4e-8;
    /// later positions 5e-3..1.6e-2, like the CPU vs the float-activation reference), so those cases are held to
    /// <see cref="ApproximationTolerance"/>, the float-vs-rounded-activation bound. So are Q2_K, Q3_K and Q5_K, which
    /// the CUDA backend converts to F16 at upload (f16-rounded weights, float activations): the reference's Q8_K
    /// activation rounding is then the whole difference, the float-vs-Q8_K gap that bound was measured on.
    /// Observed on the emulator: 1.2e-2..2.3e-2 relative.
    /// </summary>
    private const double CudaKvTolerance = 5e-3;

    private const int Threads = 2;


    /// <summary>Cases whose matmuls take float activations (no 8-bit rounding on either side).</summary>
    private static readonly HashSet<string> FloatActivationCases = new(StringComparer.Ordinal) { "F32", "F16", "F16_tied", "F32_nemo_style", "F32_moe" };

    /// <summary>Each case on the CPU, and the CUDA subset on CUDA.</summary>
    private static IEnumerable<TestCaseData> OnBackends(IEnumerable<string> cpuCases, IEnumerable<string> cudaCases) =>
        cpuCases.Select(name => new TestCaseData(name, MistralBackend.Cpu))
            .Concat(cudaCases.Select(name => new TestCaseData(name, MistralBackend.Cuda)));

    /// <summary>Every case on both backends (the SIMT emulator runs the tiny models in about 40 ms a token).</summary>
    public static IEnumerable<TestCaseData> AllCasesOnBothBackends => OnBackends(CaseNames, CaseNames);

    public static IEnumerable<TestCaseData> WindowCasesOnBothBackends => OnBackends(WindowCaseNames, ["F32"]);

    public static IEnumerable<TestCaseData> FewCasesOnBothBackends => OnBackends(CaseNames, ["F32", "Q4_0"]);

    /// <summary>The logit bound (relative to max(1, max |logit|)) for a case on a backend; see the constants' reasons.</summary>
    private static double Tolerance(string caseName, MistralBackend backend) =>
        backend != MistralBackend.Cuda ? RelativeTolerance
        : FloatActivationCases.Contains(caseName) ? CudaKvTolerance
        : ApproximationTolerance;

    private static MistralModel Load(TinyModel tiny, MistralBackend backend)
    {
        TestBackend.Require(backend);
        var model = MistralModel.Load(tiny.Path, TestBackend.Options(backend, Threads));
        Assert.That(model.Backend, Is.EqualTo(backend));
        return model;
    }

    /// <summary>
    /// A session for a comparison with the reference. On the CPU its KV cache is F32: the reference keeps K and V in
    /// double, and the default F16 cache rounds them by up to 2^-11 relative, which reaches the logits as ~2e-4..5e-4
    /// (measured on these models), several times <see cref="RelativeTolerance"/>; so these tests check the model's
    /// math at 1e-4 on a cache exact to the activations, and <c>F16KvCacheTests</c> (with the native test_kv_f16)
    /// holds the F16 cache to its own bound against this one. CUDA holds F16 only: <see cref="CudaKvTolerance"/>.
    /// </summary>
    private static MistralSession Session(MistralModel model, MistralBackend backend, int? contextLength = null, int? batchSize = null) =>
        model.CreateSession(new SessionOptions
        {
            ContextLength = contextLength,
            BatchSize = batchSize,
            KvCacheType = backend == MistralBackend.Cuda ? KvCacheType.F16 : KvCacheType.F32,
        });

    private static readonly Dictionary<string, TinyModelSpec> Cases = new(StringComparer.Ordinal)
    {
        ["F32"] = TinyModelSpec.Odd(GgmlType.F32),
        ["F16"] = TinyModelSpec.Odd(GgmlType.F16),
        ["BF16"] = TinyModelSpec.Odd(GgmlType.BF16),
        ["Q8_0"] = TinyModelSpec.BlockAligned(GgmlType.Q8_0),
        ["Q4_0"] = TinyModelSpec.BlockAligned(GgmlType.Q4_0),
        // Tied output on a quantized type: the quantized token embedding doubles as the output matmul.
        ["Q4_0_tied"] = TinyModelSpec.BlockAligned(GgmlType.Q4_0) with { TiedOutput = true, Seed = 99 },
        ["F16_tied"] = TinyModelSpec.Odd(GgmlType.F16) with { TiedOutput = true, Seed = 7 },
        // head_dim ≠ embd/heads, 4:1 GQA, RoPE base 1e6.
        ["F32_nemo_style"] = TinyModelSpec.NemoStyle(GgmlType.F32),
        // K-quants: rows of 256 and 512; the mixes put several types in one file, token embedding included.
        ["Q4_K"] = TinyModelSpec.KQuantAligned(GgmlType.Q4_K),
        ["Q5_K"] = TinyModelSpec.KQuantAligned(GgmlType.Q5_K),
        ["Q6_K"] = TinyModelSpec.KQuantAligned(GgmlType.Q6_K),
        ["Q3_K"] = TinyModelSpec.KQuantAligned(GgmlType.Q3_K),
        ["Q2_K"] = TinyModelSpec.KQuantAligned(GgmlType.Q2_K),
        ["Q4_K_M"] = TinyModelSpec.Q4_K_M(),
        ["K_mix_tied"] = TinyModelSpec.Q4_K_M() with
        {
            TiedOutput = true,
            Seed = 5,
            TypeOverrides = new Dictionary<string, GgmlType>(StringComparer.Ordinal)
            {
                ["token_embd.weight"] = GgmlType.Q6_K,
                ["blk.0.attn_q.weight"] = GgmlType.Q2_K,
                ["blk.0.attn_k.weight"] = GgmlType.Q3_K,
                ["blk.1.ffn_up.weight"] = GgmlType.Q5_K,
                ["blk.1.ffn_down.weight"] = GgmlType.Q6_K,
            },
        },
        // Q8_0/Q4_0 and K-quant matrices reading the same input (Wq Q8_0 beside Wk/Wv Q4_K, Wgate Q8_0 beside Wup
        // Q4_K): the native core quantizes that input once per block format (Q8_0, then Q8_K), never reusing
        // one format's copy for the other.
        ["Q8_0_K_mix"] = TinyModelSpec.KQuantAligned(GgmlType.Q4_K) with
        {
            Seed = 17,
            TypeOverrides = new Dictionary<string, GgmlType>(StringComparer.Ordinal)
            {
                ["blk.0.attn_q.weight"] = GgmlType.Q8_0,
                ["blk.0.ffn_gate.weight"] = GgmlType.Q8_0,
                ["blk.1.attn_k.weight"] = GgmlType.Q4_0,
                ["blk.1.ffn_up.weight"] = GgmlType.Q6_K,
            },
        },
        // Mixtral-style: 4 stacked experts, top-2, F32 router; the prompt groups tokens per expert.
        ["F32_moe"] = TinyModelSpec.Odd(GgmlType.F32).WithExperts(4, 2),
        ["Q8_0_moe"] = TinyModelSpec.BlockAligned(GgmlType.Q8_0).WithExperts(4, 2) with { Seed = 4321 },
    };

    public static IEnumerable<string> CaseNames => Cases.Keys;

    /// <summary>Sliding-window cases: one float, one block-quantized.</summary>
    public static IEnumerable<string> WindowCaseNames => ["F32", "Q4_0"];

    // BOS first, then ordinary ids spread over bytes and normal pieces (all < 301).
    private static readonly int[] Prompt = [TinyModelFactory.BosId, 270, 5, 299, 260, 140, 33];
    private static readonly int[] FollowUp = [201, 88, 3, 300, 259];
    private static readonly int[] LongPrompt = [TinyModelFactory.BosId, 270, 5, 299, 260, 140, 33, 201, 88, 17];

    [TestCaseSource(nameof(CaseNames))]
    public void Config_read_from_the_file_matches_the_spec(string caseName)
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = Threads });
        TinyModelSpec spec = tiny.Spec;
        ModelConfig config = model.Config;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(config.VocabSize, Is.EqualTo(spec.VocabSize));
            Assert.That(config.EmbeddingLength, Is.EqualTo(spec.EmbeddingLength));
            Assert.That(config.LayerCount, Is.EqualTo(spec.LayerCount));
            Assert.That(config.HeadCount, Is.EqualTo(spec.HeadCount));
            Assert.That(config.KvHeadCount, Is.EqualTo(spec.KvHeadCount));
            Assert.That(config.HeadDim, Is.EqualTo(spec.HeadDim));
            Assert.That(config.FeedForwardLength, Is.EqualTo(spec.FeedForwardLength));
            Assert.That(config.SlidingWindow, Is.EqualTo(spec.SlidingWindow));
            Assert.That(config.RopeFreqBase, Is.EqualTo(spec.RopeFreqBase));
            Assert.That(config.RmsNormEps, Is.EqualTo(spec.RmsNormEps));
            Assert.That(config.ExpertCount, Is.EqualTo(spec.ExpertCount));
            Assert.That(config.ExpertUsedCount, Is.EqualTo(spec.ExpertUsedCount));
        }
    }

    /// <summary>(a) a 7-token prompt in one call, every position; (b) then 5 tokens one call each.</summary>
    [TestCaseSource(nameof(AllCasesOnBothBackends))]
    public void Prompt_logits_then_single_steps_match_the_reference(string caseName, MistralBackend backend)
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = Load(tiny, backend);
        using MistralSession session = Session(model, backend);
        ReferenceModel reference = tiny.CreateReference();
        int vocab = tiny.Spec.VocabSize;

        float[] promptLogits = session.Evaluate(Prompt, allLogits: true);
        double[][] expected = reference.Forward(Prompt);
        Assert.That(promptLogits, Has.Length.EqualTo(Prompt.Length * vocab));
        Assert.That(session.Position, Is.EqualTo(Prompt.Length));
        var error = new ErrorTracker(Tolerance(caseName, backend));
        for (int t = 0; t < Prompt.Length; t++)
        {
            error.Check(promptLogits.AsSpan(t * vocab, vocab), expected[t], $"{caseName} prompt position {t}",
                t >= reference.FirstNearTiePosition);
        }

        TestContext.Out.WriteLine($"{caseName} on {backend}: prompt (7 positions, one call) {error}");

        var stepError = new ErrorTracker(Tolerance(caseName, backend));
        for (int i = 0; i < FollowUp.Length; i++)
        {
            float[] logits = session.Evaluate([FollowUp[i]]);
            Assert.That(logits, Has.Length.EqualTo(vocab));
            double[] expectedStep = reference.Forward(FollowUp[i]);
            stepError.Check(logits, expectedStep, $"{caseName} step {i} (position {Prompt.Length + i})",
                Prompt.Length + i >= reference.FirstNearTiePosition);
        }

        Assert.That(session.Position, Is.EqualTo(Prompt.Length + FollowUp.Length));
        TestContext.Out.WriteLine($"{caseName} on {backend}: 5 single-token steps {stepError}");
    }

    public static IEnumerable<string> QuantizedCaseNames =>
        ["Q8_0", "Q4_0", "Q4_0_tied", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M", "K_mix_tied", "Q8_0_K_mix", "BF16"];

    /// <summary>
    /// The approximation itself: the native result (quantized activations) is within
    /// <see cref="ApproximationTolerance"/> of the float-activation reference, and is measurably different
    /// from it, so the exact-emulation comparison above is not passing vacuously.
    /// </summary>
    [TestCaseSource(nameof(QuantizedCaseNames))]
    public void Quantized_activations_stay_close_to_the_float_reference(string caseName)
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = Threads });
        using MistralSession session = Session(model, MistralBackend.Cpu);
        int vocab = tiny.Spec.VocabSize;

        float[] native = session.Evaluate(Prompt, allLogits: true);
        double[][] floatReference = tiny.CreateReference(floatActivations: true).Forward(Prompt);
        double[][] emulated = tiny.CreateReference().Forward(Prompt);
        double worst = 0, emulationGap = 0;
        for (int t = 0; t < Prompt.Length; t++)
        {
            ReadOnlySpan<float> row = native.AsSpan(t * vocab, vocab);
            double scale = Math.Max(1.0, floatReference[t].Max(Math.Abs));
            worst = Math.Max(worst, MaxAbsDiff(row, floatReference[t]) / scale);
            emulationGap = Math.Max(emulationGap, MaxAbsDiff(row, emulated[t]) / scale);
        }

        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{caseName}: native vs float-activation reference {worst:E2} relative (bound {ApproximationTolerance:E0}); " +
            $"vs the emulating reference {emulationGap:E2}"));
        Assert.That(worst, Is.LessThanOrEqualTo(ApproximationTolerance));
        Assert.That(worst, Is.GreaterThan(10 * RelativeTolerance),
            "native equals the float reference: are the quantized-activation kernels running at all?");
    }

    /// <summary>
    /// (c) 24 greedy tokens after the prompt: the id lists must be identical. On CUDA the same, except at a step where
    /// the reference's best two logits are closer than the CUDA bound (<see cref="Tolerance"/>): there either choice
    /// is right, so the native choice must be one of them, and the comparison ends (the histories part).
    /// </summary>
    [TestCaseSource(nameof(AllCasesOnBothBackends))]
    public void Greedy_continuation_matches_the_reference(string caseName, MistralBackend backend)
    {
        const int count = 24;
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = Load(tiny, backend);
        using MistralSession session = Session(model, backend);

        // AddBos = false: the prompt already starts with BOS, and the reference is fed exactly these ids.
        var options = new GenerationOptions { MaxTokens = count, Temperature = 0, AddBos = false };
        List<int> native = session.GenerateTokens(Prompt, options).ToList();
        List<int> expected = tiny.CreateReference().GreedyGenerate(Prompt, count, TinyModelFactory.EosId);

        TestContext.Out.WriteLine($"{caseName}: reference greedy [{string.Join(' ', expected)}]");
        TestContext.Out.WriteLine($"{caseName}: native    greedy [{string.Join(' ', native)}] on {backend}");
        if (backend == MistralBackend.Cuda && !native.SequenceEqual(expected))
        {
            CheckDivergenceIsANearTie(caseName, tiny.CreateReference(), native, Tolerance(caseName, backend));
            return;
        }
        Assert.That(native, Is.EqualTo(expected));
        if (!tiny.Spec.TiedOutput)
        {
            // Untied models never emit EOS (zero output row), so the whole length was compared.
            Assert.That(native, Has.Count.EqualTo(count));
        }
    }

    /// <summary>
    /// Walks the reference along the native ids: each must be the reference's greedy choice, unless the reference's
    /// margin between its choice and the native one is within twice the per-logit bound (each of the two logits may
    /// be off by the bound: a near tie that the CUDA backend's f16 KV cache may decide the other way); after such a
    /// step the histories differ and checking stops.
    /// </summary>
    private static void CheckDivergenceIsANearTie(string caseName, ReferenceModel reference, List<int> native, double tolerance)
    {
        double[] logits = reference.Forward(Prompt)[^1];
        for (int i = 0; i <= native.Count; i++)
        {
            int best = Array.IndexOf(logits, logits.Max());
            int chosen = i < native.Count ? native[i] : TinyModelFactory.EosId; // a short list ended on EOS
            if (chosen != best)
            {
                double margin = logits[best] - logits[chosen];
                double bound = tolerance * Math.Max(1.0, logits.Max(Math.Abs));
                Assert.That(margin, Is.LessThanOrEqualTo(2 * bound),
                    $"{caseName} step {i}: native chose {chosen}, the reference {best}, {margin:E3} apart: beyond a near tie (bound {bound:E3} per logit)");
                TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{caseName} step {i}: a near tie ({best} vs {chosen}, {margin:E2} apart, within 2 × {bound:E2}); identical before it"));
                return;
            }

            if (i < native.Count)
            {
                logits = reference.Forward(native[i]);
            }
        }

        Assert.Fail("the lists differ, yet every native choice was the reference's: a bug in this check");
    }

    /// <summary>
    /// (d) Window 4, 10-token prompt: matches the windowed reference, in one call and step by step, and
    /// clearly differs from the full-attention reference, so ignoring the window (llama.cpp's behaviour for
    /// the "llama" architecture) would fail here.
    /// </summary>
    [TestCaseSource(nameof(WindowCasesOnBothBackends))]
    public void Sliding_window_matches_the_reference_and_is_not_full_attention(string caseName, MistralBackend backend)
    {
        const int window = 4;
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName] with { SlidingWindow = window });
        using MistralModel model = Load(tiny, backend);
        Assert.That(model.Config.SlidingWindow, Is.EqualTo(window));
        int vocab = tiny.Spec.VocabSize;

        double[][] windowed = tiny.CreateReference().Forward(LongPrompt);
        double[][] full = tiny.CreateReference(slidingWindow: 0).Forward(LongPrompt);

        // One call (the prefill path).
        using (MistralSession session = Session(model, backend))
        {
            float[] logits = session.Evaluate(LongPrompt, allLogits: true);
            var error = new ErrorTracker(Tolerance(caseName, backend));
            double fullDistance = 0;
            for (int t = 0; t < LongPrompt.Length; t++)
            {
                ReadOnlySpan<float> row = logits.AsSpan(t * vocab, vocab);
                error.Check(row, windowed[t], $"{caseName} windowed prompt position {t}");
                fullDistance = Math.Max(fullDistance, MaxAbsDiff(row, full[t]));
            }

            TestContext.Out.WriteLine($"{caseName}: window {window}, 10 positions in one call {error}; " +
                $"distance to full attention {fullDistance:E2}");

            // Positions < window see the same keys either way; later ones must differ far beyond tolerance (CUDA's
            // bound is 50 times the CPU's: 10 times it is a wider separation than 100 times the CPU's).
            Assert.That(fullDistance, Is.GreaterThan((backend == MistralBackend.Cuda ? 10 : 100) * error.MaxBound),
                "the native result is indistinguishable from full attention: is the window ignored?");
        }

        // Three tokens in one call, then one by one (the decode path masks differently).
        using (MistralSession session = Session(model, backend))
        {
            var error = new ErrorTracker(Tolerance(caseName, backend));
            float[] first = session.Evaluate(LongPrompt.AsSpan(0, 3), allLogits: true);
            for (int t = 0; t < 3; t++)
            {
                error.Check(first.AsSpan(t * vocab, vocab), windowed[t], $"{caseName} windowed position {t}");
            }

            for (int t = 3; t < LongPrompt.Length; t++)
            {
                error.Check(session.Evaluate(LongPrompt.AsSpan(t, 1)), windowed[t], $"{caseName} windowed step {t}");
            }

            TestContext.Out.WriteLine($"{caseName}: window {window}, 3 + 7 single steps {error}");
        }
    }

    /// <summary>
    /// (d') Window 4 on a rolling cache: ContextLength 8 and batch size 2 give 4 + 2 - 1 = 5 cache rows, yet a
    /// 10-token prompt and 20 single steps (positions up to 29, past the context length) must match the reference,
    /// which keeps the whole history and masks by absolute position.
    /// </summary>
    [TestCaseSource(nameof(WindowCasesOnBothBackends))]
    public void Sliding_window_on_a_rolling_cache_past_the_context_length_matches_the_reference(string caseName, MistralBackend backend)
    {
        const int window = 4, steps = 20;
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName] with { SlidingWindow = window });
        using MistralModel model = Load(tiny, backend);
        using MistralSession session = Session(model, backend, contextLength: 8, batchSize: 2);
        Assert.That(session.CacheSlots, Is.EqualTo(window + 2 - 1), "cache rows per layer");
        Assert.That(session.PositionLimit, Is.EqualTo(int.MaxValue), "a windowed session rolls instead of filling up");
        int vocab = tiny.Spec.VocabSize;
        ReferenceModel reference = tiny.CreateReference();

        var error = new ErrorTracker(Tolerance(caseName, backend));
        float[] promptLogits = session.Evaluate(LongPrompt, allLogits: true);
        double[][] expected = reference.Forward(LongPrompt);
        for (int t = 0; t < LongPrompt.Length; t++)
        {
            error.Check(promptLogits.AsSpan(t * vocab, vocab), expected[t], $"{caseName} rolling prompt position {t}");
        }

        for (int i = 0; i < steps; i++)
        {
            int token = 3 + ((i * 37) % 290); // varied ids below the vocabulary size
            error.Check(session.Evaluate([token]), reference.Forward(token), $"{caseName} rolling step at position {LongPrompt.Length + i}");
        }

        Assert.That(session.Position, Is.EqualTo(LongPrompt.Length + steps));
        TestContext.Out.WriteLine($"{caseName}: window {window}, 5 cache rows, 10 + 20 positions {error}");
    }

    /// <summary>A prompt longer than the session's batch size is split into several decode calls.</summary>
    [TestCaseSource(nameof(FewCasesOnBothBackends))]
    public void Prompt_longer_than_the_batch_size_matches_the_reference(string caseName, MistralBackend backend)
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = Load(tiny, backend);
        using MistralSession session = Session(model, backend, batchSize: 3);
        int vocab = tiny.Spec.VocabSize;

        float[] logits = session.Evaluate(LongPrompt, allLogits: true);
        ReferenceModel reference = tiny.CreateReference();
        double[][] expected = reference.Forward(LongPrompt);
        Assert.That(logits, Has.Length.EqualTo(LongPrompt.Length * vocab));
        var error = new ErrorTracker(Tolerance(caseName, backend));
        for (int t = 0; t < LongPrompt.Length; t++)
        {
            error.Check(logits.AsSpan(t * vocab, vocab), expected[t], $"{caseName} position {t}",
                t >= reference.FirstNearTiePosition);
        }

        TestContext.Out.WriteLine($"{caseName}: 10 positions with batch size 3 {error}");
    }

    /// <summary>Truncating the cache and evaluating other tokens equals a run that never saw the dropped ones.</summary>
    [TestCaseSource(nameof(FewCasesOnBothBackends))]
    public void Truncate_then_continue_matches_the_reference(string caseName, MistralBackend backend)
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        using MistralModel model = Load(tiny, backend);
        using MistralSession session = Session(model, backend);
        int vocab = tiny.Spec.VocabSize;

        session.Evaluate(LongPrompt);
        session.Truncate(4);
        Assert.That(session.Position, Is.EqualTo(4));
        int[] replacement = [60, 61, 62];
        float[] logits = session.Evaluate(replacement, allLogits: true);

        ReferenceModel reference = tiny.CreateReference();
        double[][] expected = reference.Forward([.. LongPrompt[..4], .. replacement]);
        var error = new ErrorTracker(Tolerance(caseName, backend));
        for (int t = 0; t < replacement.Length; t++)
        {
            error.Check(logits.AsSpan(t * vocab, vocab), expected[4 + t], $"{caseName} position {4 + t}",
                4 + t >= reference.FirstNearTiePosition);
        }

        // Reset is truncation to zero: the next prompt starts a fresh sequence.
        session.Reset();
        Assert.That(session.Position, Is.Zero);
        ReferenceModel fresh = tiny.CreateReference();
        double[] afterReset = fresh.Forward(Prompt)[^1];
        error.Check(session.Evaluate(Prompt), afterReset, $"{caseName} after Reset",
            Prompt.Length - 1 >= fresh.FirstNearTiePosition);
        TestContext.Out.WriteLine($"{caseName}: truncate to 4 and continue, then reset {error}");
    }

    /// <summary>
    /// (e) One thread vs two on the same file and tokens. The native core splits each matmul by output
    /// rows and attention by (token, head) items, and every element is reduced by one thread in a fixed order,
    /// so the thread count should not change a single bit; observed: bit-identical for every case (0 of 3612
    /// logits differ). Asserted: bit-identical. A kernel that ever splits a reduction across threads must
    /// relax this to the logit tolerance on purpose, not by accident.
    /// </summary>
    [TestCaseSource(nameof(CaseNames))]
    public void One_and_two_threads_agree(string caseName)
    {
        using TinyModel tiny = TinyModelFactory.Create(Cases[caseName]);
        int[] tokens = [.. Prompt, .. FollowUp];
        float[] one = EvaluateWithThreads(tiny.Path, 1, tokens);
        float[] two = EvaluateWithThreads(tiny.Path, 2, tokens);

        int differing = 0;
        double maxDiff = 0;
        for (int i = 0; i < one.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(one[i]) != BitConverter.SingleToInt32Bits(two[i]))
            {
                differing++;
                maxDiff = Math.Max(maxDiff, Math.Abs(one[i] - two[i]));
            }
        }

        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{caseName}: 1 vs 2 threads: {differing} of {one.Length} logits differ in bits, max |Δ| {maxDiff:E2}"));
        Assert.That(two, Is.EqualTo(one), "thread count changed the logits");
    }

    private static float[] EvaluateWithThreads(string path, int threads, int[] tokens)
    {
        using MistralModel model = MistralModel.Load(path, new ModelOptions { Threads = threads });
        using MistralSession session = model.CreateSession();
        return session.Evaluate(tokens, allLogits: true);
    }

    private static double MaxAbsDiff(ReadOnlySpan<float> native, double[] reference)
    {
        double max = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            max = Math.Max(max, Math.Abs(native[i] - reference[i]));
        }

        return max;
    }

    /// <summary>Asserts each row against the bound and remembers the worst absolute and relative error seen.</summary>
    private sealed class ErrorTracker(double tolerance = RelativeTolerance)
    {
        public double MaxAbsolute { get; private set; }
        public double MaxRelative { get; private set; }
        public double MaxBound { get; private set; }
        public double MaxLogit { get; private set; }

        /// <summary>Positions checked against <see cref="ApproximationTolerance"/> because of a near tie.</summary>
        public int NearTiePositions { get; private set; }

        /// <summary>
        /// <paramref name="nearTie"/>: the reference rounded a Q8_K input of this position (or of one before it,
        /// through the KV cache) within float noise of a tie (<see cref="ReferenceModel.FirstNearTiePosition"/>),
        /// so the native core may have rounded one activation a step the other way; then the bound is that of
        /// float vs quantized activations, <see cref="ApproximationTolerance"/>, and the position is counted.
        /// </summary>
        public void Check(ReadOnlySpan<float> native, double[] reference, string what, bool nearTie = false)
        {
            Assert.That(native.Length, Is.EqualTo(reference.Length), what);
            double maxLogit = 0;
            foreach (double v in reference)
            {
                maxLogit = Math.Max(maxLogit, Math.Abs(v));
            }

            for (int i = 0; i < native.Length; i++)
            {
                Assert.That(float.IsFinite(native[i]), Is.True, $"{what}: logit {i} is {native[i]}");
            }

            double error = MaxAbsDiff(native, reference);
            double scale = Math.Max(1.0, maxLogit);
            double bound = (nearTie ? Math.Max(ApproximationTolerance, tolerance) : tolerance) * scale;
            NearTiePositions += nearTie ? 1 : 0;
            MaxAbsolute = Math.Max(MaxAbsolute, error);
            MaxRelative = Math.Max(MaxRelative, error / scale);
            MaxBound = Math.Max(MaxBound, bound);
            MaxLogit = Math.Max(MaxLogit, maxLogit);
            Assert.That(error, Is.LessThanOrEqualTo(bound),
                $"{what}: max |Δlogit| {error:E3} exceeds {bound:E3} (max |logit| {maxLogit:F3})");
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"max |Δlogit| {MaxAbsolute:E2} (relative {MaxRelative:E2}, max |logit| {MaxLogit:F2}, bound {MaxBound:E2}") +
            (NearTiePositions > 0 ? $", {NearTiePositions} position(s) after a Q8_K near tie at the looser bound)" : ")");
    }
}
