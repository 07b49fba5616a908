using System.Globalization;
using Mistral.Gguf;
using Mistral.Tests.Reference;

namespace Mistral.Tests.Models;

/// <summary>
/// The shape of a tiny random-weight Mistral model. Small enough that the double-precision reference runs
/// in milliseconds, odd enough (vocab 301, head_dim 10, ffn 52) that a kernel which silently assumes a
/// multiple of 4, 8 or 16 gets caught.
/// </summary>
internal sealed record TinyModelSpec
{
    public required int VocabSize { get; init; }
    public required int EmbeddingLength { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int KvHeadCount { get; init; }
    public required int HeadDim { get; init; }
    public required int FeedForwardLength { get; init; }
    public int ContextLength { get; init; } = 128;
    public float RopeFreqBase { get; init; } = 10000f;
    public float RmsNormEps { get; init; } = 1e-5f;
    /// <summary>0 = full attention.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Type of every 2-D matrix (token embedding included); norms are always F32.</summary>
    public GgmlType WeightType { get; init; } = GgmlType.F32;
    /// <summary>Per-tensor types by GGUF name (a llama.cpp-style mix such as Q4_K_M); other matrices use WeightType.</summary>
    public IReadOnlyDictionary<string, GgmlType>? TypeOverrides { get; init; }

    /// <summary>The type a matrix tensor is stored as.</summary>
    public GgmlType MatrixType(string name) =>
        TypeOverrides is not null && TypeOverrides.TryGetValue(name, out GgmlType type) ? type : WeightType;
    public int Seed { get; init; } = 1234;
    /// <summary>True: no output.weight, the logits reuse token_embd.weight.</summary>
    public bool TiedOutput { get; init; }
    /// <summary>0 = dense feed-forward; else a Mixtral-style mixture of this many experts (stacked tensors).</summary>
    public int ExpertCount { get; init; }
    /// <summary>Experts each token runs when <see cref="ExpertCount"/> &gt; 0.</summary>
    public int ExpertUsedCount { get; init; }

    /// <summary>
    /// True: experts written the way older converters did, one tensor each (blk.N.ffn_gate.E.weight …),
    /// instead of stacked; the library refuses these files.
    /// </summary>
    public bool SplitExperts { get; init; }

    /// <summary>Mixtral in miniature: 4 experts, top-2, on the given base shape.</summary>
    public TinyModelSpec WithExperts(int count = 4, int used = 2) => this with { ExpertCount = count, ExpertUsedCount = used };

    /// <summary>
    /// For F32/F16/BF16: every dimension deliberately odd-sized or not a power of two. Rows of 40 or 52 are
    /// not a multiple of the 32-element quantization block, so this preset cannot hold Q8_0/Q4_0.
    /// </summary>
    public static TinyModelSpec Odd(GgmlType weightType = GgmlType.F32) => new()
    {
        VocabSize = 301,
        EmbeddingLength = 40,
        LayerCount = 2,
        HeadCount = 4,
        KvHeadCount = 2,
        HeadDim = 10,
        FeedForwardLength = 52,
        WeightType = weightType,
    };

    /// <summary>For Q8_0/Q4_0: every row length (ne0 = 64 or 96) a multiple of the 32-element block.</summary>
    public static TinyModelSpec BlockAligned(GgmlType weightType = GgmlType.Q8_0) => new()
    {
        VocabSize = 301,
        EmbeddingLength = 64,
        LayerCount = 2,
        HeadCount = 4,
        KvHeadCount = 2,
        HeadDim = 16,
        FeedForwardLength = 96,
        WeightType = weightType,
    };

    /// <summary>
    /// For K-quants (Q2_K..Q6_K): every row length (ne0 = 256 or 512) a multiple of the 256-weight super-block, as
    /// llama.cpp requires; head_dim 64 so Q and the attention output are 256 wide.
    /// </summary>
    public static TinyModelSpec KQuantAligned(GgmlType weightType = GgmlType.Q4_K) => new()
    {
        VocabSize = 301,
        EmbeddingLength = 256,
        LayerCount = 2,
        HeadCount = 4,
        KvHeadCount = 2,
        HeadDim = 64,
        FeedForwardLength = 512,
        WeightType = weightType,
    };

    /// <summary>
    /// Shaped like llama.cpp's Q4_K_M mix: Q4_K matrices, a Q6_K output, and Q6_K attn_v / ffn_down in some layers
    /// (llama.cpp gives half the layers the extra bits; here layer 0).
    /// </summary>
    public static TinyModelSpec Q4_K_M() => KQuantAligned(GgmlType.Q4_K) with
    {
        TypeOverrides = new Dictionary<string, GgmlType>(StringComparer.Ordinal)
        {
            ["output.weight"] = GgmlType.Q6_K,
            ["blk.0.attn_v.weight"] = GgmlType.Q6_K,
            ["blk.0.ffn_down.weight"] = GgmlType.Q6_K,
        },
    };

    /// <summary>
    /// Nemo-style: head_dim (12) differs from embd/heads (10), so Q and the attention output are 48 wide
    /// while the residual stream is 40; also a 1e6 RoPE base and 4:1 grouping.
    /// </summary>
    public static TinyModelSpec NemoStyle(GgmlType weightType = GgmlType.F32) => new()
    {
        VocabSize = 301,
        EmbeddingLength = 40,
        LayerCount = 2,
        HeadCount = 4,
        KvHeadCount = 1,
        HeadDim = 12,
        FeedForwardLength = 52,
        RopeFreqBase = 1e6f,
        WeightType = weightType,
    };

    /// <summary>
    /// The reference sees exactly the float32 values the file stores for RoPE base and eps (the GGUF keys are
    /// float32), widened to double.
    /// </summary>
    public ReferenceConfig ToReferenceConfig() => new(
        VocabSize, EmbeddingLength, LayerCount, HeadCount, KvHeadCount, HeadDim, FeedForwardLength,
        RopeFreqBase, RmsNormEps, SlidingWindow, ExpertCount, ExpertUsedCount);
}

/// <summary>A tiny model written to a temporary GGUF file, with the weights exactly as the file holds them.</summary>
internal sealed class TinyModel : IDisposable
{
    private readonly string _directory;

    internal TinyModel(TinyModelSpec spec, string directory, string path, ReferenceWeights weights)
    {
        Spec = spec;
        _directory = directory;
        Path = path;
        Weights = weights;
    }

    public TinyModelSpec Spec { get; }

    /// <summary>The .gguf file.</summary>
    public string Path { get; }

    /// <summary>Dequantized from the very bytes written, so reference and native core read identical weights.</summary>
    public ReferenceWeights Weights { get; }

    /// <summary>A fresh reference over the file's weights; <paramref name="slidingWindow"/> overrides the spec's.</summary>
    /// <summary>
    /// The reference for this file. By default it rounds the inputs of Q4_0/Q8_0 matrices to Q8_0 blocks,
    /// those of K-quant (Q2_K..Q6_K) matrices to Q8_K blocks and those of BF16 matrices to bf16 as the native
    /// core does (exact emulation);
    /// <paramref name="floatActivations"/> gives the plain float-activation reference instead.
    /// </summary>
    public ReferenceModel CreateReference(int? slidingWindow = null, bool floatActivations = false)
    {
        ReferenceConfig config = Spec.ToReferenceConfig();
        if (slidingWindow is int window)
        {
            config = config with { SlidingWindow = window };
        }

        return new ReferenceModel(config, Weights)
        {
            Q8_0Inputs = floatActivations ? null : MatricesOfType(GgmlType.Q4_0, GgmlType.Q8_0),
            Q8_KInputs = floatActivations ? null
                : MatricesOfType(GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K),
            Bf16Inputs = floatActivations ? null : MatricesOfType(GgmlType.BF16),
        };
    }

    /// <summary>The weight arrays stored as one of <paramref name="types"/>, by reference.</summary>
    private HashSet<float[]> MatricesOfType(params GgmlType[] types)
    {
        var set = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        void Add(string name, float[]? matrix)
        {
            if (matrix is not null && Array.IndexOf(types, Spec.MatrixType(name)) >= 0)
            {
                set.Add(matrix);
            }
        }

        Add("token_embd.weight", Weights.Output is null ? Weights.TokenEmbedding : null); // tied output
        Add("output.weight", Weights.Output);
        for (int l = 0; l < Weights.Layers.Length; l++)
        {
            ReferenceLayerWeights w = Weights.Layers[l];
            string b = $"blk.{l}.";
            Add(b + "attn_q.weight", w.Wq);
            Add(b + "attn_k.weight", w.Wk);
            Add(b + "attn_v.weight", w.Wv);
            Add(b + "attn_output.weight", w.Wo);
            bool moe = w.FfnGateInp is not null;
            // the router (ffn_gate_inp) is always written as F32: float activations
            Add(b + (moe ? "ffn_gate_exps.weight" : "ffn_gate.weight"), w.FfnGate);
            Add(b + (moe ? "ffn_up_exps.weight" : "ffn_up.weight"), w.FfnUp);
            Add(b + (moe ? "ffn_down_exps.weight" : "ffn_down.weight"), w.FfnDown);
        }

        return set;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still mapped elsewhere (Windows) must not fail the test; the OS temp cleaner gets it.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// Builds tiny random-weight Mistral models: the raw float weights (for tests of the reference alone) or a
/// GGUF file laid out as llama.cpp's converter writes Mistral ("llama" architecture).
/// </summary>
internal static class TinyModelFactory
{
    public const int UnknownId = 0;
    public const int BosId = 1;
    public const int EosId = 2;

    /// <summary>Control tokens (0..2) then the 256 byte-fallback tokens; normal pieces start here.</summary>
    public const int FirstNormalId = 3 + 256;

    /// <summary>One tensor as generated, before any quantization.</summary>
    internal sealed record TensorData(string Name, long[] Dims, float[] Values, bool IsMatrix);

    /// <summary>
    /// Writes <paramref name="spec"/> to a new temporary directory and returns the model; dispose it to
    /// delete the directory.
    /// </summary>
    public static TinyModel Create(TinyModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mistral-tests",
            Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        string path = System.IO.Path.Combine(directory, $"tiny-{spec.WeightType}.gguf");
        try
        {
            var writer = new GgufWriter();
            WriteMetadata(writer, spec);

            // Each tensor is quantized once; the reference gets the dequantization of those same bytes.
            var stored = new Dictionary<string, float[]>(StringComparer.Ordinal);
            foreach (TensorData tensor in GenerateTensors(spec))
            {
                GgmlType type = tensor.IsMatrix ? spec.MatrixType(tensor.Name) : GgmlType.F32;
                byte[] bytes = GgmlQuantization.Quantize(type, tensor.Values);
                writer.AddTensor(tensor.Name, type, tensor.Dims, bytes);
                stored[tensor.Name] = GgmlQuantization.Dequantize(type, bytes, tensor.Values.Length);
            }

            writer.Save(path);
            return new TinyModel(spec, directory, path, ToReferenceWeights(spec, stored));
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>The unquantized weights, for tests of the reference that need no file.</summary>
    public static ReferenceWeights CreateReferenceWeights(TinyModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var values = GenerateTensors(spec).ToDictionary(t => t.Name, t => t.Values, StringComparer.Ordinal);
        return ToReferenceWeights(spec, values);
    }

    /// <summary>
    /// Every tensor with GGUF dims (ne0 first = input dimension) and seeded random values.
    /// Matrices are uniform with standard deviation 1/√fan_in, so each projection keeps activations O(1);
    /// the token embedding has standard deviation 1 when untied (RMSNorm rescales it anyway); the output projection
    /// 2/√embd so logits spread over several units and greedy arg-maxes are not near-ties that float32
    /// rounding could flip; norm weights are 1 ± 0.1 so a missing norm weight is visible.
    /// </summary>
    public static List<TensorData> GenerateTensors(TinyModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var random = new Random(spec.Seed);
        int embd = spec.EmbeddingLength;
        int vocab = spec.VocabSize;
        int qDim = spec.HeadCount * spec.HeadDim;
        int kvDim = spec.KvHeadCount * spec.HeadDim;
        int ffn = spec.FeedForwardLength;

        // Tied, the embedding is also the output matrix. At standard deviation 1 a token's own logit
        // (≈ |e_t|² ≈ embd, via the residual stream) dwarfs every other and greedy decoding only ever repeats
        // the last token; at 1/√embd the rows have unit norm and the layers' contributions compete with it.
        double embeddingStd = spec.TiedOutput ? 1.0 / Math.Sqrt(embd) : 1.0;
        var tensors = new List<TensorData>
        {
            Matrix(random, "token_embd.weight", embd, vocab, embeddingStd),
            Norm(random, "output_norm.weight", embd),
        };

        if (!spec.TiedOutput)
        {
            TensorData output = Matrix(random, "output.weight", embd, vocab, 2.0 / Math.Sqrt(embd));
            // Control tokens (<unk>, <s>, </s>) get a zero output row: their logit is exactly 0 while the
            // best of ~300 others is several units up, so the random model never emits EOS and the greedy
            // comparison always runs its full length. (Tied models keep the embedding rows, and rely on
            // both sides applying the same stop-at-EOS rule.)
            Array.Clear(output.Values, 0, 3 * embd);
            tensors.Add(output);
        }

        for (int l = 0; l < spec.LayerCount; l++)
        {
            string p = $"blk.{l.ToString(CultureInfo.InvariantCulture)}.";
            tensors.Add(Norm(random, p + "attn_norm.weight", embd));
            tensors.Add(Matrix(random, p + "attn_q.weight", embd, qDim, 1.0 / Math.Sqrt(embd)));
            tensors.Add(Matrix(random, p + "attn_k.weight", embd, kvDim, 1.0 / Math.Sqrt(embd)));
            tensors.Add(Matrix(random, p + "attn_v.weight", embd, kvDim, 1.0 / Math.Sqrt(embd)));
            tensors.Add(Matrix(random, p + "attn_output.weight", qDim, embd, 1.0 / Math.Sqrt(qDim)));
            tensors.Add(Norm(random, p + "ffn_norm.weight", embd));
            if (spec.ExpertCount > 0)
            {
                // The router stays F32 as llama.cpp's quantizer leaves it; its 2/√embd spread makes the
                // routing decisive (top-2 logits rarely within float rounding of the third).
                TensorData router = Matrix(random, p + "ffn_gate_inp.weight", embd, spec.ExpertCount, 2.0 / Math.Sqrt(embd));
                tensors.Add(router with { IsMatrix = false });
                if (spec.SplitExperts)
                {
                    for (int e = 0; e < spec.ExpertCount; e++)
                    {
                        string x = e.ToString(CultureInfo.InvariantCulture);
                        tensors.Add(Matrix(random, $"{p}ffn_gate.{x}.weight", embd, ffn, 1.0 / Math.Sqrt(embd)));
                        tensors.Add(Matrix(random, $"{p}ffn_down.{x}.weight", ffn, embd, 1.0 / Math.Sqrt(ffn)));
                        tensors.Add(Matrix(random, $"{p}ffn_up.{x}.weight", embd, ffn, 1.0 / Math.Sqrt(embd)));
                    }

                    continue;
                }

                tensors.Add(Stacked(random, p + "ffn_gate_exps.weight", embd, ffn, spec.ExpertCount, 1.0 / Math.Sqrt(embd)));
                tensors.Add(Stacked(random, p + "ffn_up_exps.weight", embd, ffn, spec.ExpertCount, 1.0 / Math.Sqrt(embd)));
                tensors.Add(Stacked(random, p + "ffn_down_exps.weight", ffn, embd, spec.ExpertCount, 1.0 / Math.Sqrt(ffn)));
                continue;
            }

            tensors.Add(Matrix(random, p + "ffn_gate.weight", embd, ffn, 1.0 / Math.Sqrt(embd)));
            tensors.Add(Matrix(random, p + "ffn_up.weight", embd, ffn, 1.0 / Math.Sqrt(embd)));
            tensors.Add(Matrix(random, p + "ffn_down.weight", ffn, embd, 1.0 / Math.Sqrt(ffn)));
        }

        return tensors;
    }

    /// <summary>A [ne0, ne1] matrix, uniform in ±std·√3 (the uniform distribution with that standard deviation).</summary>
    private static TensorData Matrix(Random random, string name, int ne0, int ne1, double std)
    {
        double half = std * Math.Sqrt(3.0);
        var values = new float[ne0 * ne1];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(((random.NextDouble() * 2.0) - 1.0) * half);
        }

        return new TensorData(name, [ne0, ne1], values, IsMatrix: true);
    }

    /// <summary>n_expert [ne0, ne1] matrices one after another: GGUF's [ne0, ne1, n_expert] expert tensor.</summary>
    private static TensorData Stacked(Random random, string name, int ne0, int ne1, int experts, double std)
    {
        TensorData one = Matrix(random, name, ne0, ne1 * experts, std);
        return one with { Dims = [ne0, ne1, experts] };
    }

    private static TensorData Norm(Random random, string name, int n)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = (float)(1.0 + (((random.NextDouble() * 2.0) - 1.0) * 0.1));
        }

        return new TensorData(name, [n], values, IsMatrix: false);
    }

    private static ReferenceWeights ToReferenceWeights(TinyModelSpec spec, IReadOnlyDictionary<string, float[]> t)
    {
        var layers = new ReferenceLayerWeights[spec.LayerCount];
        for (int l = 0; l < spec.LayerCount; l++)
        {
            string p = $"blk.{l.ToString(CultureInfo.InvariantCulture)}.";
            if (spec.ExpertCount > 0)
            {
                // Split files: the reference stacks the per-expert tensors itself, expert-major.
                float[] Experts(string part) => spec.SplitExperts
                    ? [.. Enumerable.Range(0, spec.ExpertCount).SelectMany(e => t[$"{p}{part}.{e.ToString(CultureInfo.InvariantCulture)}.weight"])]
                    : t[$"{p}{part}_exps.weight"];
                layers[l] = new ReferenceLayerWeights
                {
                    AttnNorm = t[p + "attn_norm.weight"],
                    Wq = t[p + "attn_q.weight"],
                    Wk = t[p + "attn_k.weight"],
                    Wv = t[p + "attn_v.weight"],
                    Wo = t[p + "attn_output.weight"],
                    FfnNorm = t[p + "ffn_norm.weight"],
                    FfnGateInp = t[p + "ffn_gate_inp.weight"],
                    FfnGate = Experts("ffn_gate"),
                    FfnUp = Experts("ffn_up"),
                    FfnDown = Experts("ffn_down"),
                };
                continue;
            }

            layers[l] = new ReferenceLayerWeights
            {
                AttnNorm = t[p + "attn_norm.weight"],
                Wq = t[p + "attn_q.weight"],
                Wk = t[p + "attn_k.weight"],
                Wv = t[p + "attn_v.weight"],
                Wo = t[p + "attn_output.weight"],
                FfnNorm = t[p + "ffn_norm.weight"],
                FfnGate = t[p + "ffn_gate.weight"],
                FfnUp = t[p + "ffn_up.weight"],
                FfnDown = t[p + "ffn_down.weight"],
            };
        }

        return new ReferenceWeights
        {
            TokenEmbedding = t["token_embd.weight"],
            OutputNorm = t["output_norm.weight"],
            Output = spec.TiedOutput ? null : t["output.weight"],
            Layers = layers,
        };
    }

    /// <summary>
    /// The metadata llama.cpp's converter writes for a Mistral model, with an SPM ("llama") vocabulary: the library's
    /// own synthetic-model writer (<see cref="SyntheticModel"/>), given this spec's values. Unlike the library's
    /// synthetic models these always carry general.file_type and key_length (Nemo-style specs need the latter).
    /// </summary>
    private static void WriteMetadata(GgufWriter writer, TinyModelSpec spec)
    {
        // A mix reports its base type's "medium" file type, as llama-quantize labels Q4_K_M.
        uint fileType = spec.TypeOverrides is { Count: > 0 } && spec.WeightType == GgmlType.Q4_K ? 15u : FileType(spec.WeightType);
        SyntheticModel.AddLlamaMetadata(writer, new LlamaMetadata($"tiny-mistral-{spec.WeightType}", fileType, spec.VocabSize,
            spec.ContextLength, spec.EmbeddingLength, spec.LayerCount, spec.FeedForwardLength, spec.HeadCount, spec.KvHeadCount,
            spec.HeadDim, WriteKeyLength: true, spec.RopeFreqBase, spec.RmsNormEps, spec.SlidingWindow, spec.ExpertCount,
            spec.ExpertUsedCount));
        (string[] tokens, float[] scores, int[] types) = BuildVocabulary(spec.VocabSize);
        SyntheticModel.AddSentencePieceTokenizer(writer, tokens, scores, types);
    }

    /// <summary>llama.cpp's LLAMA_FTYPE values ("mostly" = the 2-D weights), as general.file_type holds them.</summary>
    private static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q8_0 => 7,
        GgmlType.Q2_K => 10,
        GgmlType.Q3_K => 11, // Q3_K_S: every matrix Q3_K
        GgmlType.Q4_K => 14, // Q4_K_S
        GgmlType.Q5_K => 16, // Q5_K_S
        GgmlType.Q6_K => 18,
        GgmlType.BF16 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "No tiny-model preset for this type."),
    };

    /// <summary>
    /// An SPM vocabulary shaped like Mistral's: the control and byte-fallback tokens every synthetic model starts
    /// with (<see cref="SyntheticModel.ControlAndByteTokens"/>: ids 0..258), then unique normal pieces (type 1) with
    /// decreasing scores (earlier = preferred merge), up to vocabSize. Its own pieces, not the library's: the tests'
    /// token ids were chosen against this list.
    /// </summary>
    public static (string[] Tokens, float[] Scores, int[] Types) BuildVocabulary(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, FirstNormalId + 1);
        var (tokens, types) = SyntheticModel.ControlAndByteTokens();
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (string piece in NormalPieces())
        {
            if (tokens.Count == vocabSize)
            {
                break;
            }

            if (seen.Add(piece))
            {
                tokens.Add(piece);
                types.Add(1);
            }
        }

        var scores = new float[vocabSize];
        for (int i = FirstNormalId; i < vocabSize; i++)
        {
            scores[i] = -(i - FirstNormalId);
        }

        return ([.. tokens], scores, [.. types]);
    }

    /// <summary>Common English pieces first, then "▁x" and two-letter pieces: an endless supply of unique strings.</summary>
    private static IEnumerable<string> NormalPieces()
    {
        string[] common =
        [
            "▁", "▁the", "▁a", "▁to", "▁and", "▁of", "▁in", "▁is", "▁it", "▁that",
            "e", "t", "a", "o", "i", "n", "s", "r", "h", "l", "d", "c", "u", "m", "f", "p", "g", "w", "y", "b",
            "v", "k", "x", "j", "q", "z", "th", "he", "in", "er", "an", "re", "on", "at", "en", "nd",
        ];
        foreach (string piece in common)
        {
            yield return piece;
        }

        for (char c = 'a'; c <= 'z'; c++)
        {
            yield return "▁" + c;
        }

        for (char c1 = 'a'; c1 <= 'z'; c1++)
        {
            for (char c2 = 'a'; c2 <= 'z'; c2++)
            {
                yield return new string([c1, c2]);
            }
        }
    }
}
