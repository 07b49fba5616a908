namespace Mistral.Tests.Reference;

/// <summary>
/// Hyper-parameters the reference forward pass needs. Kept separate from the library's own
/// <c>ModelConfig</c> on purpose: the reference must not share code (or bugs) with what it checks.
/// </summary>
internal sealed record ReferenceConfig(
    int VocabSize,
    int EmbeddingLength,
    int LayerCount,
    int HeadCount,
    int KvHeadCount,
    int HeadDim,
    int FeedForwardLength,
    double RopeFreqBase,
    double RmsNormEps,
    int SlidingWindow,
    int ExpertCount = 0,
    int ExpertUsedCount = 0);

/// <summary>
/// The weights of one layer, each matrix in GGUF order: ne0 (the input dimension) is contiguous, so row r
/// of a matrix with input size n is elements [r*n, (r+1)*n) and y[r] = Σ_c W[r*n + c]·x[c].
/// Values are floats because that is what the file holds after dequantization; all arithmetic is double.
/// </summary>
internal sealed class ReferenceLayerWeights
{
    public required float[] AttnNorm { get; init; }    // [embd]
    public required float[] Wq { get; init; }          // heads*head_dim rows of embd
    public required float[] Wk { get; init; }          // kv_heads*head_dim rows of embd
    public required float[] Wv { get; init; }          // kv_heads*head_dim rows of embd
    public required float[] Wo { get; init; }          // embd rows of heads*head_dim
    public required float[] FfnNorm { get; init; }     // [embd]
    public required float[] FfnGate { get; init; }     // ffn rows of embd
    public required float[] FfnUp { get; init; }       // ffn rows of embd
    public required float[] FfnDown { get; init; }     // embd rows of ffn
    // Mixture of experts: FfnGate/FfnUp/FfnDown then hold every expert's matrix one after another (expert e
    // at e·ffn·embd, GGUF's stacked layout) and FfnGateInp is the router, expert_count rows of embd.
    public float[]? FfnGateInp { get; init; }
}

/// <summary>All weights of a model, as the reference reads them.</summary>
internal sealed class ReferenceWeights
{
    public required float[] TokenEmbedding { get; init; } // vocab rows of embd
    public required float[] OutputNorm { get; init; }     // [embd]
    /// <summary>vocab rows of embd; null when the output projection is tied to the token embedding.</summary>
    public float[]? Output { get; init; }
    public required ReferenceLayerWeights[] Layers { get; init; }
}

/// <summary>
/// A plain, slow, obviously-correct Mistral ("llama" GGUF architecture) forward pass in double precision.
/// No SIMD, no batching tricks, no fused kernels: every step is written the way the paper/llama.cpp
/// conventions describe it, so that a disagreement with the native core points at the native core.
/// It keeps its own KV cache (post-RoPE keys and values per layer and position) so it can run token by
/// token exactly like a decoding session.
/// </summary>
internal sealed class ReferenceModel
{
    private readonly ReferenceConfig _config;
    private readonly ReferenceWeights _weights;

    // _keys[layer][position] = that position's keys for all KV heads (kv_heads*head_dim), after RoPE.
    private readonly List<double[]>[] _keys;
    private readonly List<double[]>[] _values;

    public ReferenceModel(ReferenceConfig config, ReferenceWeights weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        if (config.HeadCount % config.KvHeadCount != 0)
        {
            throw new ArgumentException("HeadCount must be a multiple of KvHeadCount (GQA).", nameof(config));
        }

        if (config.HeadDim % 2 != 0)
        {
            throw new ArgumentException("RoPE rotates pairs: HeadDim must be even.", nameof(config));
        }

        if (weights.Layers.Length != config.LayerCount)
        {
            throw new ArgumentException("One ReferenceLayerWeights per layer expected.", nameof(weights));
        }

        _config = config;
        _weights = weights;
        _keys = new List<double[]>[config.LayerCount];
        _values = new List<double[]>[config.LayerCount];
        for (int l = 0; l < config.LayerCount; l++)
        {
            _keys[l] = [];
            _values[l] = [];
        }
    }

    public ReferenceConfig Config => _config;

    /// <summary>
    /// Matrices (by reference) whose input the native core rounds to Q8_0 blocks before the dot product:
    /// those stored as Q4_0 or Q8_0, as llama.cpp does. Null or empty: float activations everywhere (the
    /// plain reference). See <see cref="RoundToQ8_0Blocks"/> for the rule.
    /// </summary>
    public IReadOnlySet<float[]>? Q8_0Inputs { get; init; }

    /// <summary>
    /// Matrices (by reference) whose input the native core rounds to Q8_K blocks: those stored as K-quants
    /// (Q2_K..Q6_K), as llama.cpp does. See <see cref="RoundToQ8_KBlocks"/> for the rule.
    /// </summary>
    public IReadOnlySet<float[]>? Q8_KInputs { get; init; }

    /// <summary>
    /// Matrices (by reference) whose input the native core rounds to bf16: those stored as BF16, as llama.cpp
    /// does. See <see cref="RoundToBf16"/> for the rule.
    /// </summary>
    public IReadOnlySet<float[]>? Bf16Inputs { get; init; }

    /// <summary>
    /// The earliest position whose forward pass rounded a Q8_K input within float noise of a rounding tie
    /// (see <see cref="Q8_KTieMargin"/>), or <see cref="int.MaxValue"/> when none has. From there on the native
    /// core may have rounded that value the other way: one step of one activation, which these small random
    /// models amplify to as much as ~1e-2 of the logits (measured: a 1e-7 relative nudge of the inputs moved
    /// position 11 of the Q5_K case by 9e-2), so logits at and after it are only as close as float activations
    /// are. The KV cache carries the effect to every later position.
    /// </summary>
    public int FirstNearTiePosition { get; private set; } = int.MaxValue;

    /// <summary>
    /// How close (relative to |iscale·x|) to a half-integer a scaled activation must be to count as a near tie:
    /// the native activations agree with this reference's to about 1e-7 relative (the logits to 1e-6 at the
    /// end of the network), so 1e-6 leaves a factor of ten.
    /// </summary>
    public const double Q8_KTieMargin = 1e-6;

    private int _position; // the position whose activations Input() is rounding

    private double[] Input(float[] matrix, double[] x)
    {
        if (Q8_0Inputs is not null && Q8_0Inputs.Contains(matrix))
        {
            return RoundToQ8_0Blocks(x);
        }

        if (Q8_KInputs is not null && Q8_KInputs.Contains(matrix))
        {
            double[] y = RoundToQ8_KBlocks(x, out bool nearTie);
            if (nearTie)
            {
                FirstNearTiePosition = Math.Min(FirstNearTiePosition, _position);
            }

            return y;
        }

        if (Bf16Inputs is not null && Bf16Inputs.Contains(matrix))
        {
            return RoundToBf16(x);
        }

        return x;
    }

    /// <summary>
    /// The activation rounding for BF16 matrices, restated from the rule (native/src/cpu/quant_act_bf16.h),
    /// in arithmetic rather than bits: each value as a float, rounded to 8 significant bits with ties to even;
    /// a value below the smallest normal float becomes zero (the native core keeps its sign, which no
    /// product can see); NaN and infinities pass through (a finite value rounding past the largest bf16
    /// becomes an infinity, as IEEE rounding gives).
    /// </summary>
    internal static double[] RoundToBf16(double[] x)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double v = (float)x[i];
            if (double.IsNaN(v) || double.IsInfinity(v) || v == 0)
            {
                y[i] = v;
                continue;
            }

            if (Math.Abs(v) < Math.ScaleB(1.0, -126))
            {
                y[i] = 0;
                continue;
            }

            int e = Math.ILogB(v); // |v| in [2^e, 2^(e+1)): the last kept bit is worth 2^(e-7)
            double r = Math.ScaleB(Math.Round(Math.ScaleB(v, 7 - e), MidpointRounding.ToEven), e - 7);
            bool overflow = Math.Abs(r) >= Math.ScaleB(1.0, 128);
            y[i] = overflow ? (r > 0 ? double.PositiveInfinity : double.NegativeInfinity) : r;
        }

        return y;
    }

    /// <summary>
    /// The activation rounding of the native Q4_0/Q8_0 kernels, restated from the rule (not from their code):
    /// the input is a float vector; per block of 32, amax = max |x|, d = (float)(Half)(amax / 127),
    /// q = round-half-to-even(x · (127 / amax)) computed in float (q = 0 when amax = 0), value d·q.
    /// </summary>
    internal static double[] RoundToQ8_0Blocks(double[] x)
    {
        if (x.Length % 32 != 0)
        {
            throw new ArgumentException("Q8_0 blocks need a length that is a multiple of 32.", nameof(x));
        }

        var y = new double[x.Length];
        for (int b = 0; b < x.Length; b += 32)
        {
            float amax = 0;
            for (int i = b; i < b + 32; i++)
            {
                amax = MathF.Max(amax, MathF.Abs((float)x[i]));
            }

            double d = (float)(Half)(amax / 127f);
            float id = amax != 0 ? 127f / amax : 0f;
            for (int i = b; i < b + 32; i++)
            {
                y[i] = d * MathF.Round((float)x[i] * id, MidpointRounding.ToEven);
            }
        }

        return y;
    }

    /// <summary>
    /// The activation rounding of the native K-quant kernels (llama.cpp's Q8_K), restated from the rule (not
    /// from their code): the input is a float vector; per block of 256, max = the first value with the largest
    /// |x|, sign kept; max = 0 gives all zeros; else iscale = -127 / max and q = min(127,
    /// round-half-to-even(iscale · x)), both in float, and the value is d·q with d = 1 / iscale as a float
    /// (not rounded to half precision, unlike Q8_0).
    /// </summary>
    internal static double[] RoundToQ8_KBlocks(double[] x) => RoundToQ8_KBlocks(x, out _);

    /// <summary><see cref="RoundToQ8_KBlocks(double[])"/>, also saying whether any value was a near tie.</summary>
    internal static double[] RoundToQ8_KBlocks(double[] x, out bool nearTie)
    {
        nearTie = false;
        if (x.Length % 256 != 0)
        {
            throw new ArgumentException("Q8_K blocks need a length that is a multiple of 256.", nameof(x));
        }

        var y = new double[x.Length];
        for (int b = 0; b < x.Length; b += 256)
        {
            float max = 0;
            for (int i = b; i < b + 256; i++)
            {
                if (MathF.Abs((float)x[i]) > MathF.Abs(max))
                {
                    max = (float)x[i];
                }
            }

            if (max == 0)
            {
                continue; // the block stays zero
            }

            float iscale = -127f / max;
            double d = 1f / iscale;
            for (int i = b; i < b + 256; i++)
            {
                float s = iscale * (float)x[i];
                y[i] = d * MathF.Min(127f, MathF.Round(s, MidpointRounding.ToEven));
                double frac = Math.Abs(s - Math.Floor(s) - 0.5);
                nearTie |= frac <= Q8_KTieMargin * Math.Abs(s);
            }
        }

        return y;
    }

    /// <summary>Tokens held in the KV cache: the position the next token gets.</summary>
    public int Position { get; private set; }

    /// <summary>Forgets everything from <paramref name="position"/> on.</summary>
    public void Truncate(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, Position);
        for (int l = 0; l < _config.LayerCount; l++)
        {
            _keys[l].RemoveRange(position, _keys[l].Count - position);
            _values[l].RemoveRange(position, _values[l].Count - position);
        }

        Position = position;
        if (FirstNearTiePosition >= position)
        {
            FirstNearTiePosition = int.MaxValue; // its effect left the cache with it
        }
    }

    public void Reset() => Truncate(0);

    /// <summary>
    /// Appends one token at <see cref="Position"/> and returns its logits. Token-major order: the token
    /// goes through every layer before the next token is looked at, like one decode step.
    /// </summary>
    public double[] Forward(int token)
    {
        int position = Position;
        _position = position;
        double[] x = Embed(token);
        for (int l = 0; l < _config.LayerCount; l++)
        {
            AttentionBlock(l, x, position);
            FeedForwardBlock(l, x);
        }

        Position = position + 1;
        return Logits(x);
    }

    /// <summary>
    /// Appends several tokens and returns every position's logits. Deliberately computed layer-major
    /// (all tokens through layer 0, then all through layer 1, ...) like a batched prefill, and not by
    /// calling <see cref="Forward(int)"/>: the two loop orders touch the KV cache differently, so their
    /// agreement (a test) checks the cache bookkeeping. Per token the arithmetic is the same, so the results
    /// are bit-identical.
    /// </summary>
    public double[][] Forward(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int start = Position;
        var xs = new double[tokens.Count][];
        for (int t = 0; t < tokens.Count; t++)
        {
            xs[t] = Embed(tokens[t]);
        }

        for (int l = 0; l < _config.LayerCount; l++)
        {
            // Token t's attention must see this layer's keys of tokens < t: they were appended just before,
            // in this same loop, because t runs in increasing order.
            for (int t = 0; t < tokens.Count; t++)
            {
                _position = start + t;
                AttentionBlock(l, xs[t], start + t);
                FeedForwardBlock(l, xs[t]);
            }
        }

        Position = start + tokens.Count;
        var logits = new double[tokens.Count][];
        for (int t = 0; t < tokens.Count; t++)
        {
            _position = start + t;
            logits[t] = Logits(xs[t]);
        }

        return logits;
    }

    /// <summary>
    /// Greedy decoding from a fresh cache: feed the prompt, then repeatedly append the arg-max token
    /// (lowest id on a tie). Stops after <paramref name="maxTokens"/> tokens, or before emitting
    /// <paramref name="eosId"/> (the EOS token is not part of the result), the rule the library's greedy
    /// generation follows.
    /// </summary>
    public List<int> GreedyGenerate(IReadOnlyList<int> prompt, int maxTokens, int eosId)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        Reset();
        var generated = new List<int>();
        if (maxTokens <= 0 || prompt.Count == 0)
        {
            return generated;
        }

        double[] logits = Forward(prompt)[^1];
        while (true)
        {
            int next = ArgMax(logits);
            if (next == eosId)
            {
                break;
            }

            generated.Add(next);
            if (generated.Count == maxTokens)
            {
                break;
            }

            logits = Forward(next);
        }

        return generated;
    }

    // ---- the forward pass, one block at a time -------------------------------------------------------

    private double[] Embed(int token)
    {
        if ((uint)token >= (uint)_config.VocabSize)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, "Token id outside the vocabulary.");
        }

        int n = _config.EmbeddingLength;
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = _weights.TokenEmbedding[(token * n) + i];
        }

        return x;
    }

    /// <summary>x += Wo · attention(RoPE(Wq·h), RoPE(Wk·h), Wv·h) with h = RMSNorm(x). Appends K and V to the cache.</summary>
    private void AttentionBlock(int layer, double[] x, int position)
    {
        ReferenceLayerWeights w = _weights.Layers[layer];
        int headDim = _config.HeadDim;
        int qDim = _config.HeadCount * headDim;
        int kvDim = _config.KvHeadCount * headDim;

        double[] h = RmsNorm(x, w.AttnNorm, _config.RmsNormEps);
        double[] q = MatVec(w.Wq, Input(w.Wq, h), qDim);
        double[] k = MatVec(w.Wk, Input(w.Wk, h), kvDim);
        double[] v = MatVec(w.Wv, Input(w.Wv, h), kvDim);

        for (int head = 0; head < _config.HeadCount; head++)
        {
            ApplyRope(q.AsSpan(head * headDim, headDim), position, _config.RopeFreqBase);
        }

        for (int head = 0; head < _config.KvHeadCount; head++)
        {
            ApplyRope(k.AsSpan(head * headDim, headDim), position, _config.RopeFreqBase);
        }

        if (_keys[layer].Count != position)
        {
            throw new InvalidOperationException("KV cache out of step with the position: a reference bug.");
        }

        _keys[layer].Add(k);
        _values[layer].Add(v);

        double[] attended = Attention(q, _keys[layer], _values[layer], position,
            _config.HeadCount, _config.KvHeadCount, headDim, _config.SlidingWindow);
        double[] projected = MatVec(w.Wo, Input(w.Wo, attended), _config.EmbeddingLength);
        for (int i = 0; i < x.Length; i++)
        {
            x[i] += projected[i];
        }
    }

    /// <summary>x += down(silu(gate·h) ⊙ (up·h)) with h = RMSNorm(x).</summary>
    private void FeedForwardBlock(int layer, double[] x)
    {
        ReferenceLayerWeights w = _weights.Layers[layer];
        double[] h = RmsNorm(x, w.FfnNorm, _config.RmsNormEps);
        if (_config.ExpertCount > 0)
        {
            MixtureOfExperts(w, h, x);
            return;
        }

        double[] gate = MatVec(w.FfnGate, Input(w.FfnGate, h), _config.FeedForwardLength);
        double[] up = MatVec(w.FfnUp, Input(w.FfnUp, h), _config.FeedForwardLength);
        var activated = new double[_config.FeedForwardLength];
        for (int i = 0; i < activated.Length; i++)
        {
            activated[i] = Silu(gate[i]) * up[i];
        }

        double[] down = MatVec(w.FfnDown, Input(w.FfnDown, activated), _config.EmbeddingLength);
        for (int i = 0; i < x.Length; i++)
        {
            x[i] += down[i];
        }
    }

    /// <summary>
    /// Mixtral's feed-forward as llama.cpp computes it: softmax over all router logits, keep the
    /// ExpertUsedCount most probable experts (the lower index on a tie), renormalise their probabilities to
    /// sum to 1, and add each chosen expert's SwiGLU output times its weight.
    /// </summary>
    private void MixtureOfExperts(ReferenceLayerWeights w, double[] h, double[] x)
    {
        int experts = _config.ExpertCount, ffn = _config.FeedForwardLength, embd = _config.EmbeddingLength;
        float[] router = w.FfnGateInp ?? throw new InvalidOperationException("An MoE layer needs FfnGateInp.");
        double[] logits = MatVec(router, Input(router, h), experts);
        double max = logits.Max();
        double[] probabilities = logits.Select(l => Math.Exp(l - max)).ToArray();
        double total = probabilities.Sum();
        int[] chosen = Enumerable.Range(0, experts)
            .OrderByDescending(e => probabilities[e] / total).ThenBy(e => e) // OrderBy is stable; ThenBy states the tie rule
            .Take(_config.ExpertUsedCount).ToArray();
        double chosenTotal = chosen.Sum(e => probabilities[e] / total);
        foreach (int e in chosen)
        {
            double weight = probabilities[e] / total / chosenTotal;
            double[] gate = ExpertMatVec(w.FfnGate, e * ffn * embd, Input(w.FfnGate, h), ffn);
            double[] up = ExpertMatVec(w.FfnUp, e * ffn * embd, Input(w.FfnUp, h), ffn);
            var activated = new double[ffn];
            for (int i = 0; i < ffn; i++)
            {
                activated[i] = Silu(gate[i]) * up[i];
            }

            double[] down = ExpertMatVec(w.FfnDown, e * embd * ffn, Input(w.FfnDown, activated), embd);
            for (int i = 0; i < embd; i++)
            {
                x[i] += weight * down[i];
            }
        }
    }

    /// <summary>y = W·x for the matrix of <paramref name="rows"/> rows of x.Length starting at <paramref name="offset"/>.</summary>
    private static double[] ExpertMatVec(float[] w, int offset, double[] x, int rows)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int c = 0; c < x.Length; c++)
            {
                sum += w[offset + (r * x.Length) + c] * x[c];
            }

            y[r] = sum;
        }

        return y;
    }

    private double[] Logits(double[] x)
    {
        double[] normed = RmsNorm(x, _weights.OutputNorm, _config.RmsNormEps);
        float[] output = _weights.Output ?? _weights.TokenEmbedding; // tied: reuse the embedding matrix
        return MatVec(output, Input(output, normed), _config.VocabSize);
    }

    // ---- the primitives, public to the tests so each can be checked by hand ---------------------------

    /// <summary>y = W·x for W stored as <paramref name="rows"/> contiguous rows of x.Length.</summary>
    internal static double[] MatVec(float[] w, double[] x, int rows)
    {
        int cols = x.Length;
        if (w.Length != (long)rows * cols)
        {
            throw new ArgumentException($"Matrix has {w.Length} elements, expected {rows}x{cols}.", nameof(w));
        }

        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int c = 0; c < cols; c++)
            {
                sum += w[(r * cols) + c] * x[c];
            }

            y[r] = sum;
        }

        return y;
    }

    /// <summary>RMSNorm: x / sqrt(mean(x²) + eps) · weight.</summary>
    internal static double[] RmsNorm(double[] x, float[] weight, double eps)
    {
        double sumSquares = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sumSquares += x[i] * x[i];
        }

        double scale = 1.0 / Math.Sqrt((sumSquares / x.Length) + eps);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] * scale * weight[i];
        }

        return y;
    }

    /// <summary>
    /// RoPE as the "llama" GGUF architecture applies it (the converter has permuted Q/K for this): pair
    /// (2i, 2i+1) of one head is rotated by θ = position · base^(−2i/head_dim), i &lt; head_dim/2.
    /// </summary>
    internal static void ApplyRope(Span<double> head, int position, double freqBase)
    {
        int headDim = head.Length;
        for (int i = 0; i < headDim / 2; i++)
        {
            double theta = position * Math.Pow(freqBase, -2.0 * i / headDim);
            double cos = Math.Cos(theta);
            double sin = Math.Sin(theta);
            double a = head[2 * i];
            double b = head[(2 * i) + 1];
            head[2 * i] = (a * cos) - (b * sin);
            head[(2 * i) + 1] = (a * sin) + (b * cos);
        }
    }

    /// <summary>
    /// Causal grouped-query attention of one query (at <paramref name="queryPosition"/>) over the cached
    /// keys/values of positions 0..queryPosition. Query head h reads KV head h / (heads / kv_heads); scores
    /// are scaled by 1/√head_dim; key j is visible iff j ≤ p and (window == 0 or p − j &lt; window).
    /// </summary>
    internal static double[] Attention(double[] query, IReadOnlyList<double[]> keys, IReadOnlyList<double[]> values,
        int queryPosition, int headCount, int kvHeadCount, int headDim, int slidingWindow)
    {
        int group = headCount / kvHeadCount;
        double scale = 1.0 / Math.Sqrt(headDim);
        var output = new double[headCount * headDim];
        for (int h = 0; h < headCount; h++)
        {
            int kvHead = h / group;
            int qOffset = h * headDim;
            int kvOffset = kvHead * headDim;

            // Scores of the visible keys; invisible keys get no entry at all (weight exactly 0).
            var visible = new List<int>();
            var scores = new List<double>();
            for (int j = 0; j <= queryPosition && j < keys.Count; j++)
            {
                bool inWindow = slidingWindow == 0 || queryPosition - j < slidingWindow;
                if (!inWindow)
                {
                    continue;
                }

                double dot = 0;
                for (int d = 0; d < headDim; d++)
                {
                    dot += query[qOffset + d] * keys[j][kvOffset + d];
                }

                visible.Add(j);
                scores.Add(dot * scale);
            }

            double[] weights = Softmax(scores);
            for (int s = 0; s < visible.Count; s++)
            {
                double[] v = values[visible[s]];
                for (int d = 0; d < headDim; d++)
                {
                    output[qOffset + d] += weights[s] * v[kvOffset + d];
                }
            }
        }

        return output;
    }

    /// <summary>Softmax with the maximum subtracted first, so large scores cannot overflow exp().</summary>
    internal static double[] Softmax(IReadOnlyList<double> scores)
    {
        var result = new double[scores.Count];
        if (scores.Count == 0)
        {
            return result;
        }

        double max = double.NegativeInfinity;
        for (int i = 0; i < scores.Count; i++)
        {
            max = Math.Max(max, scores[i]);
        }

        double sum = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            result[i] = Math.Exp(scores[i] - max);
            sum += result[i];
        }

        for (int i = 0; i < result.Length; i++)
        {
            result[i] /= sum;
        }

        return result;
    }

    /// <summary>silu(x) = x·σ(x) = x / (1 + e^(−x)).</summary>
    internal static double Silu(double x) => x / (1.0 + Math.Exp(-x));

    /// <summary>Index of the largest value; the lowest index wins a tie.</summary>
    internal static int ArgMax(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
