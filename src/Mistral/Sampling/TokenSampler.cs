namespace Mistral.Sampling;

/// <summary>
/// Picks the next token from logits. The chain follows llama.cpp's default order: repetition penalty,
/// then (unless greedy) top-k, top-p, min-p on the temperature-1 distribution, then temperature, then a
/// seeded draw. All buffers are allocated once per sampler, so sampling a token allocates nothing.
/// </summary>
internal sealed class TokenSampler
{
    private readonly GenerationOptions _options;
    private readonly int[] _order;
    private readonly float[] _probs;
    private readonly int[] _recent;
    private int _recentCount;
    private int _recentNext;
    private Xoshiro256 _rng;

    public TokenSampler(int vocabSize, GenerationOptions options, ulong seed)
    {
        _options = options;
        _order = new int[vocabSize];
        _probs = new float[vocabSize];
        _recent = new int[Math.Max(1, options.RepetitionLastN)];
        _rng = new Xoshiro256(seed);
    }

    /// <summary>Remembers a token for the repetition penalty (prompt tokens too, as llama.cpp does).</summary>
    public void Accept(int token)
    {
        if (_options.RepetitionLastN == 0) return;
        _recent[_recentNext] = token;
        _recentNext = (_recentNext + 1) % _recent.Length;
        _recentCount = Math.Min(_recentCount + 1, _recent.Length);
    }

    /// <summary>Chooses a token. The logits are modified in place (penalties).</summary>
    public int Sample(Span<float> logits)
    {
        if (logits.Length != _order.Length) throw new ArgumentException($"Expected {_order.Length} logits, got {logits.Length}.", nameof(logits));
        ApplyRepetitionPenalty(logits);
        if (_options.Temperature == 0) return ArgMax(logits);

        // Candidates sorted by logit, most likely first. Top-k narrows before the sort so a small k on a
        // large vocabulary does not pay for sorting all of it.
        var n = logits.Length;
        for (var i = 0; i < n; i++) _order[i] = i;
        var k = _options.TopK > 0 ? Math.Min(_options.TopK, n) : n;
        var candidates = _order.AsSpan(0, n);
        SortByLogitDescending(candidates, logits, k, _probs);
        candidates = candidates[..k];

        // Probabilities at temperature 1 decide top-p and min-p, as in llama.cpp.
        var probs = _probs.AsSpan(0, candidates.Length);
        Softmax(candidates, logits, probs, 1f);
        var keep = candidates.Length;
        if (_options.TopP < 1f)
        {
            double sum = 0;
            for (var i = 0; i < keep; i++)
            {
                sum += probs[i];
                if (sum >= _options.TopP) { keep = i + 1; break; }
            }
        }
        if (_options.MinP > 0f)
        {
            var threshold = probs[0] * _options.MinP;
            var kept = 1;
            while (kept < keep && probs[kept] >= threshold) kept++;
            keep = kept;
        }
        candidates = candidates[..keep];
        probs = probs[..keep];

        Softmax(candidates, logits, probs, _options.Temperature);
        var draw = _rng.NextDouble();
        double cumulative = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            cumulative += probs[i];
            if (draw < cumulative) return candidates[i];
        }
        return candidates[^1]; // rounding left the cumulative sum a hair under 1
    }

    private void ApplyRepetitionPenalty(Span<float> logits)
    {
        var penalty = _options.RepetitionPenalty;
        if (penalty == 1f || _recentCount == 0) return;
        // Each distinct token is penalised once, however often it occurred (llama.cpp's rule).
        for (var i = 0; i < _recentCount; i++)
        {
            var token = _recent[i];
            if ((uint)token >= (uint)logits.Length) continue;
            var seenBefore = false;
            for (var j = 0; j < i; j++)
            {
                if (_recent[j] == token) { seenBefore = true; break; }
            }
            if (seenBefore) continue;
            logits[token] = logits[token] > 0 ? logits[token] / penalty : logits[token] * penalty;
        }
    }

    /// <summary>
    /// Whether <see cref="Sample"/> with these options is <see cref="ArgMax"/> of the logits as they come: greedy, and
    /// no repetition penalty to change them first. Then the native core can pick the token itself
    /// (mst_decode_greedy, by the same rule) and the logits need not leave it.
    /// </summary>
    internal static bool IsPlainArgMax(GenerationOptions options) =>
        options.Temperature == 0 && (options.RepetitionPenalty == 1f || options.RepetitionLastN == 0);

    internal static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best]) best = i; // ties keep the lowest id, like llama.cpp's greedy
        }
        return best;
    }

    /// <summary>Puts the <paramref name="k"/> largest logits first, in descending order (ties by id).</summary>
    private static void SortByLogitDescending(Span<int> ids, ReadOnlySpan<float> logits, int k, Span<float> scratch)
    {
        if (k < ids.Length)
        {
            // Partial selection: keep a running top-k in the front of the span (insertion into a sorted
            // prefix), O(n·k) worst case but O(n) typical because most logits fall below the k-th.
            for (var i = 0; i < ids.Length; i++)
            {
                var id = ids[i];
                var filled = Math.Min(i, k);
                if (filled == k && !Before(id, ids[k - 1], logits)) continue;
                var pos = filled == k ? k - 1 : filled;
                while (pos > 0 && Before(id, ids[pos - 1], logits))
                {
                    ids[pos] = ids[pos - 1];
                    pos--;
                }
                ids[pos] = id;
            }
            return;
        }
        // Full sort: negated logits as keys so the ascending sort puts the largest first.
        var keys = scratch[..ids.Length];
        for (var i = 0; i < ids.Length; i++) keys[i] = -logits[ids[i]];
        keys.Sort(ids);
    }

    private static bool Before(int a, int b, ReadOnlySpan<float> logits) =>
        logits[a] > logits[b] || (logits[a] == logits[b] && a < b);

    private static void Softmax(ReadOnlySpan<int> ids, ReadOnlySpan<float> logits, Span<float> probs, float temperature)
    {
        // Subtract the largest logit first so exp never overflows.
        var max = logits[ids[0]];
        for (var i = 1; i < ids.Length; i++) max = Math.Max(max, logits[ids[i]]);
        double sum = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            var e = Math.Exp((logits[ids[i]] - max) / temperature);
            probs[i] = (float)e;
            sum += e;
        }
        for (var i = 0; i < ids.Length; i++) probs[i] = (float)(probs[i] / sum);
    }
}
