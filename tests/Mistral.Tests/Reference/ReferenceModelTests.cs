using Mistral.Tests.Models;
using NUnit.Framework;

namespace Mistral.Tests.Reference;

/// <summary>
/// Checks of the reference forward pass itself, so the differential tests do not trust it blindly: each
/// primitive against values worked out by hand, and whole-model properties (causality, KV-cache
/// consistency, the sliding window's receptive field) that any correct implementation must have.
/// None of these needs the native library or a GGUF file.
/// </summary>
[TestFixture]
public sealed class ReferenceModelTests
{
    // Hand-computed values are evaluated in double by the same formula; only libm rounding can differ.
    private const double Exact = 1e-12;

    [Test]
    public void Bf16_rounding_keeps_8_significant_bits_with_ties_to_even()
    {
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to even, 1. 1 + 3·2^-8 ties between 1 + 2^-7 and
        // 1 + 2^-6: to even, 1 + 2^-6. Just past a tie rounds away. 3.14159 → 3.140625 (0x4049).
        double[] x = [1 + Math.ScaleB(1, -8), 1 + 3 * Math.ScaleB(1, -8), 1 + Math.ScaleB(1, -8) + Math.ScaleB(1, -20),
                      -3.14159, 0.0, Math.ScaleB(1, -130), -Math.ScaleB(1, -126), float.MaxValue, double.NaN,
                      double.NegativeInfinity];
        double[] y = ReferenceModel.RoundToBf16(x);
        Assert.That(y[0], Is.EqualTo(1.0));
        Assert.That(y[1], Is.EqualTo(1 + Math.ScaleB(1, -6)));
        Assert.That(y[2], Is.EqualTo(1 + Math.ScaleB(1, -7)));
        Assert.That(y[3], Is.EqualTo(-3.140625));
        Assert.That(y[4], Is.EqualTo(0.0));
        Assert.That(y[5], Is.EqualTo(0.0), "a denormal float becomes zero");
        Assert.That(y[6], Is.EqualTo(-Math.ScaleB(1, -126)), "the smallest normal stays");
        Assert.That(y[7], Is.EqualTo(double.PositiveInfinity), "past the largest bf16: infinity");
        Assert.That(double.IsNaN(y[8]), Is.True);
        Assert.That(y[9], Is.EqualTo(double.NegativeInfinity));
    }

    [Test]
    public void RmsNorm_matches_hand_computed_values()
    {
        // mean(x²) = (9 + 16) / 2 = 12.5; + eps 0.5 = 13; y = x / √13 · w.
        double[] y = ReferenceModel.RmsNorm([3.0, 4.0], [1f, 2f], 0.5);
        Assert.That(y, Is.EqualTo(new[] { 3 / Math.Sqrt(13), 8 / Math.Sqrt(13) }).Within(Exact));

        // mean(x²) = 30 / 4 = 7.5, eps 0, unit weights.
        double[] z = ReferenceModel.RmsNorm([1.0, 2.0, 3.0, 4.0], [1f, 1f, 1f, 1f], 0.0);
        double s = Math.Sqrt(7.5);
        Assert.That(z, Is.EqualTo(new[] { 1 / s, 2 / s, 3 / s, 4 / s }).Within(Exact));
    }

    [Test]
    public void Rope_at_position_zero_is_identity()
    {
        double[] head = [0.3, -1.2, 2.5, 0.7, -0.1, 4.0];
        double[] copy = [.. head];
        ReferenceModel.ApplyRope(head, position: 0, freqBase: 10000);
        Assert.That(head, Is.EqualTo(copy));
    }

    [Test]
    public void Rope_at_position_one_with_head_dim_two_rotates_by_one_radian()
    {
        // head_dim 2: one pair, θ = 1 · base^0 = 1 radian whatever the base.
        double[] e0 = [1.0, 0.0];
        ReferenceModel.ApplyRope(e0, position: 1, freqBase: 10000);
        Assert.That(e0, Is.EqualTo(new[] { Math.Cos(1), Math.Sin(1) }).Within(Exact));

        double[] e1 = [0.0, 1.0];
        ReferenceModel.ApplyRope(e1, position: 1, freqBase: 10000);
        Assert.That(e1, Is.EqualTo(new[] { -Math.Sin(1), Math.Cos(1) }).Within(Exact));
    }

    [Test]
    public void Rope_rotates_adjacent_pairs_with_per_pair_frequency()
    {
        // head_dim 4, base 100, position 2: pair (0,1) by 2·100^0 = 2 rad, pair (2,3) by 2·100^(−2/4) = 0.2 rad.
        // Adjacent pairs, not (i, i + head_dim/2): the GGUF converter already permuted Q/K for this layout.
        double[] head = [1.0, 0.0, 1.0, 0.0];
        ReferenceModel.ApplyRope(head, position: 2, freqBase: 100);
        Assert.That(head, Is.EqualTo(new[] { Math.Cos(2), Math.Sin(2), Math.Cos(0.2), Math.Sin(0.2) }).Within(Exact));
    }

    [Test]
    public void Rope_scores_depend_only_on_relative_position()
    {
        // The defining property of RoPE: <R(p)q, R(p')k> is a function of p − p' alone.
        double[] q = [0.5, -1.0, 0.25, 2.0, -0.75, 1.5];
        double[] k = [1.0, 0.5, -2.0, 0.1, 0.3, -0.6];
        double Score(int pq, int pk)
        {
            double[] a = [.. q];
            double[] b = [.. k];
            ReferenceModel.ApplyRope(a, pq, 10000);
            ReferenceModel.ApplyRope(b, pk, 10000);
            return a.Zip(b, (x, y) => x * y).Sum();
        }

        Assert.That(Score(7, 3), Is.EqualTo(Score(4, 0)).Within(1e-12));
        Assert.That(Score(12, 10), Is.EqualTo(Score(2, 0)).Within(1e-12));
        Assert.That(Score(5, 5), Is.EqualTo(q.Zip(k, (x, y) => x * y).Sum()).Within(1e-12));
    }

    [Test]
    public void Softmax_sums_to_one_and_survives_large_scores()
    {
        double[] p = ReferenceModel.Softmax([1000.0, 1001.0]);
        double e = Math.Exp(1);
        Assert.That(p, Is.EqualTo(new[] { 1 / (1 + e), e / (1 + e) }).Within(Exact));
        Assert.That(ReferenceModel.Softmax([0.0, 0.0, 0.0, 0.0]), Is.EqualTo(new[] { 0.25, 0.25, 0.25, 0.25 }).Within(Exact));
    }

    [Test]
    public void Silu_matches_hand_computed_values()
    {
        Assert.That(ReferenceModel.Silu(0), Is.EqualTo(0.0));
        Assert.That(ReferenceModel.Silu(1), Is.EqualTo(1 / (1 + Math.Exp(-1))).Within(Exact));
        Assert.That(ReferenceModel.Silu(-2), Is.EqualTo(-2 / (1 + Math.Exp(2))).Within(Exact));
    }

    [Test]
    public void Attention_with_one_key_returns_that_keys_value()
    {
        // A single visible key gets softmax weight exactly 1, whatever the query.
        double[] q = [3.0, -2.0, 0.5, 7.0];
        double[] k = [0.1, 0.2, -0.3, 0.4];
        double[] v = [5.0, -6.0, 7.5, 8.0];
        double[] output = ReferenceModel.Attention(q, [k], [v], queryPosition: 0,
            headCount: 1, kvHeadCount: 1, headDim: 4, slidingWindow: 0);
        Assert.That(output, Is.EqualTo(v));
    }

    [Test]
    public void Attention_with_equal_scores_averages_the_values_and_scales_by_root_head_dim()
    {
        // Identical keys: equal weights, output = mean of values.
        double[] q = [1.0, 2.0];
        double[] k = [0.5, 0.5];
        double[] output = ReferenceModel.Attention(q, [k, k], [[2.0, 4.0], [6.0, 0.0]], queryPosition: 1,
            headCount: 1, kvHeadCount: 1, headDim: 2, slidingWindow: 0);
        Assert.That(output, Is.EqualTo(new[] { 4.0, 2.0 }).Within(Exact));

        // Scores q·k/√2: with k0 = (0,0) and k1 = (√2, 0), q = (1, 0) gives scores 0 and 1:
        // weights 1/(1+e) and e/(1+e).
        double e = Math.Exp(1);
        double[] scaled = ReferenceModel.Attention([1.0, 0.0], [[0.0, 0.0], [Math.Sqrt(2), 0.0]],
            [[1.0, 0.0], [0.0, 1.0]], queryPosition: 1, headCount: 1, kvHeadCount: 1, headDim: 2, slidingWindow: 0);
        Assert.That(scaled, Is.EqualTo(new[] { 1 / (1 + e), e / (1 + e) }).Within(Exact));
    }

    [Test]
    public void Attention_query_heads_read_their_group_kv_head()
    {
        // 4 query heads over 2 KV heads: heads 0,1 read KV head 0; heads 2,3 read KV head 1.
        double[] q = new double[4 * 2];
        double[] k = [0.0, 0.0, 0.0, 0.0];
        double[] v = [1.0, 2.0, 3.0, 4.0]; // KV head 0 = (1,2), KV head 1 = (3,4)
        double[] output = ReferenceModel.Attention(q, [k], [v], queryPosition: 0,
            headCount: 4, kvHeadCount: 2, headDim: 2, slidingWindow: 0);
        Assert.That(output, Is.EqualTo(new[] { 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0 }));
    }

    [Test]
    public void Attention_is_causal_and_honours_the_sliding_window()
    {
        double[][] keys = [[0.0], [0.0], [0.0], [0.0]];
        double[][] values = [[1.0], [2.0], [4.0], [8.0]];

        // Query at position 1 sees keys 0 and 1 only, even though 2 and 3 are in the list.
        double[] causal = ReferenceModel.Attention([1.0], keys, values, queryPosition: 1, 1, 1, 1, slidingWindow: 0);
        Assert.That(causal, Is.EqualTo(new[] { 1.5 }).Within(Exact));

        // Window 1 at position 3: only key 3 (3 − 3 = 0 < 1).
        double[] window1 = ReferenceModel.Attention([1.0], keys, values, queryPosition: 3, 1, 1, 1, slidingWindow: 1);
        Assert.That(window1, Is.EqualTo(new[] { 8.0 }));

        // Window 2 at position 3: keys 2 and 3 (3 − 1 = 2 is not < 2).
        double[] window2 = ReferenceModel.Attention([1.0], keys, values, queryPosition: 3, 1, 1, 1, slidingWindow: 2);
        Assert.That(window2, Is.EqualTo(new[] { 6.0 }).Within(Exact));
    }

    [Test]
    public void Full_prompt_and_token_by_token_give_identical_logits()
    {
        // The layer-major and token-major loops do the same arithmetic per token: bit-identical is expected.
        TinyModelSpec spec = TinyModelSpec.Odd();
        int[] tokens = [1, 270, 5, 299, 260, 140, 33, 201, 88];
        var batch = new ReferenceModel(spec.ToReferenceConfig(), TinyModelFactory.CreateReferenceWeights(spec));
        double[][] all = batch.Forward(tokens);

        var stepper = new ReferenceModel(spec.ToReferenceConfig(), TinyModelFactory.CreateReferenceWeights(spec));
        for (int t = 0; t < tokens.Length; t++)
        {
            Assert.That(stepper.Forward(tokens[t]), Is.EqualTo(all[t]), $"position {t}");
        }

        Assert.That(stepper.Position, Is.EqualTo(tokens.Length));

        // And a prompt split in two batches matches too (the cache carries over between calls).
        var split = new ReferenceModel(spec.ToReferenceConfig(), TinyModelFactory.CreateReferenceWeights(spec));
        split.Forward(tokens[..4]);
        Assert.That(split.Forward(tokens[4..]), Is.EqualTo(all[4..]));
    }

    [Test]
    public void Changing_a_later_token_never_changes_an_earlier_positions_logits()
    {
        TinyModelSpec spec = TinyModelSpec.Odd();
        ReferenceWeights weights = TinyModelFactory.CreateReferenceWeights(spec);
        int[] a = [1, 270, 5, 299, 260, 140, 33];
        int[] b = [1, 270, 5, 299, 260, 141, 33];

        double[][] la = new ReferenceModel(spec.ToReferenceConfig(), weights).Forward(a);
        double[][] lb = new ReferenceModel(spec.ToReferenceConfig(), weights).Forward(b);
        for (int t = 0; t < 5; t++)
        {
            Assert.That(lb[t], Is.EqualTo(la[t]), $"position {t} saw the future");
        }

        for (int t = 5; t < a.Length; t++)
        {
            Assert.That(MaxAbsDiff(la[t], lb[t]), Is.GreaterThan(1e-3), $"position {t} ignored token 5");
        }
    }

    [Test]
    public void Sliding_window_bounds_the_receptive_field_of_a_one_layer_model()
    {
        // One layer, window 3: position p's keys/values come straight from the embeddings of tokens
        // p−2..p, so changing token 0 changes positions 0..2 and leaves positions 3.. bit-identical.
        // With full attention every later position changes.
        TinyModelSpec spec = TinyModelSpec.Odd() with { LayerCount = 1, SlidingWindow = 3 };
        ReferenceWeights weights = TinyModelFactory.CreateReferenceWeights(spec);
        int[] a = [1, 270, 5, 299, 260, 140, 33];
        int[] b = [7, 270, 5, 299, 260, 140, 33];

        double[][] la = new ReferenceModel(spec.ToReferenceConfig(), weights).Forward(a);
        double[][] lb = new ReferenceModel(spec.ToReferenceConfig(), weights).Forward(b);
        for (int t = 0; t < 3; t++)
        {
            Assert.That(MaxAbsDiff(la[t], lb[t]), Is.GreaterThan(1e-3), $"position {t}");
        }

        for (int t = 3; t < a.Length; t++)
        {
            Assert.That(lb[t], Is.EqualTo(la[t]), $"position {t} saw a token outside the window");
        }

        ReferenceConfig full = spec.ToReferenceConfig() with { SlidingWindow = 0 };
        double[][] fa = new ReferenceModel(full, weights).Forward(a);
        double[][] fb = new ReferenceModel(full, weights).Forward(b);
        Assert.That(MaxAbsDiff(fa[^1], fb[^1]), Is.GreaterThan(1e-3), "full attention must see token 0");
    }

    [Test]
    public void A_window_at_least_the_sequence_length_equals_full_attention()
    {
        TinyModelSpec spec = TinyModelSpec.Odd();
        ReferenceWeights weights = TinyModelFactory.CreateReferenceWeights(spec);
        int[] tokens = [1, 270, 5, 299, 260, 140, 33];
        double[][] full = new ReferenceModel(spec.ToReferenceConfig(), weights).Forward(tokens);
        double[][] wide = new ReferenceModel(spec.ToReferenceConfig() with { SlidingWindow = tokens.Length }, weights)
            .Forward(tokens);
        Assert.That(wide, Is.EqualTo(full));
    }

    [Test]
    public void Truncate_then_continue_equals_a_fresh_run()
    {
        TinyModelSpec spec = TinyModelSpec.Odd();
        ReferenceWeights weights = TinyModelFactory.CreateReferenceWeights(spec);
        var model = new ReferenceModel(spec.ToReferenceConfig(), weights);
        model.Forward([1, 270, 5, 299, 260, 140]);
        model.Truncate(3);
        Assert.That(model.Position, Is.EqualTo(3));
        double[][] continued = model.Forward([12, 13]);

        double[][] fresh = new ReferenceModel(spec.ToReferenceConfig(), weights).Forward([1, 270, 5, 12, 13]);
        Assert.That(continued, Is.EqualTo(fresh[3..]));
    }

    [Test]
    public void Tied_output_reuses_the_token_embedding()
    {
        TinyModelSpec spec = TinyModelSpec.Odd() with { TiedOutput = true };
        ReferenceWeights tied = TinyModelFactory.CreateReferenceWeights(spec);
        var untied = new ReferenceWeights
        {
            TokenEmbedding = tied.TokenEmbedding,
            OutputNorm = tied.OutputNorm,
            Output = [.. tied.TokenEmbedding],
            Layers = tied.Layers,
        };
        int[] tokens = [1, 270, 5];
        Assert.That(new ReferenceModel(spec.ToReferenceConfig(), tied).Forward(tokens),
            Is.EqualTo(new ReferenceModel(spec.ToReferenceConfig(), untied).Forward(tokens)));
    }

    [Test]
    public void Greedy_generation_follows_the_arg_max_and_stops_before_eos()
    {
        TinyModelSpec spec = TinyModelSpec.Odd();
        ReferenceWeights weights = TinyModelFactory.CreateReferenceWeights(spec);
        int[] prompt = [1, 270, 5, 299];
        var model = new ReferenceModel(spec.ToReferenceConfig(), weights);
        List<int> generated = model.GreedyGenerate(prompt, 6, TinyModelFactory.EosId);
        Assert.That(generated, Has.Count.EqualTo(6));

        // The same chain by hand.
        var check = new ReferenceModel(spec.ToReferenceConfig(), weights);
        double[] logits = check.Forward(prompt)[^1];
        foreach (int token in generated)
        {
            Assert.That(token, Is.EqualTo(ReferenceModel.ArgMax(logits)));
            logits = check.Forward(token);
        }

        // Declaring the third generated token to be EOS stops just before it.
        List<int> stopped = model.GreedyGenerate(prompt, 6, eosId: generated[2]);
        Assert.That(stopped, Is.EqualTo(generated.Take(2)));
    }

    [Test]
    public void Factory_weights_give_logits_with_a_healthy_spread()
    {
        // The differential tests rely on O(1) activations and logits a few units apart: near-ties would
        // make greedy comparisons fragile, exploding activations would make tolerances meaningless.
        foreach (TinyModelSpec spec in new[] { TinyModelSpec.Odd(), TinyModelSpec.BlockAligned(), TinyModelSpec.Odd() with { TiedOutput = true } })
        {
            var model = new ReferenceModel(spec.ToReferenceConfig(), TinyModelFactory.CreateReferenceWeights(spec));
            double[][] logits = model.Forward([1, 270, 5, 299, 260, 140, 33]);
            double minStd = double.MaxValue, maxStd = 0, minGap = double.MaxValue;
            foreach (double[] row in logits)
            {
                double mean = row.Average();
                double std = Math.Sqrt(row.Sum(v => (v - mean) * (v - mean)) / row.Length);
                Assert.That(std, Is.InRange(0.5, 20.0), $"logit spread of {spec}");
                Assert.That(row.All(double.IsFinite), Is.True);
                double[] sorted = [.. row.OrderDescending()];
                minStd = Math.Min(minStd, std);
                maxStd = Math.Max(maxStd, std);
                minGap = Math.Min(minGap, sorted[0] - sorted[1]);
            }

            TestContext.Out.WriteLine($"{spec.WeightType} embd {spec.EmbeddingLength} tied {spec.TiedOutput}: " +
                $"logit std {minStd:F2}..{maxStd:F2}, smallest top-1/top-2 gap {minGap:E2}");
        }
    }

    [Test]
    public void Vocabulary_has_the_spm_layout_and_unique_pieces()
    {
        (string[] tokens, float[] scores, int[] types) = TinyModelFactory.BuildVocabulary(301);
        Assert.That(tokens, Has.Length.EqualTo(301));
        Assert.That(scores, Has.Length.EqualTo(301));
        Assert.That(types, Has.Length.EqualTo(301));
        Assert.That(tokens[..3], Is.EqualTo(new[] { "<unk>", "<s>", "</s>" }));
        Assert.That(types[..3], Is.EqualTo(new[] { 2, 3, 3 }));
        Assert.That(tokens[3], Is.EqualTo("<0x00>"));
        Assert.That(tokens[258], Is.EqualTo("<0xFF>"));
        Assert.That(types[3..259], Is.All.EqualTo(6));
        Assert.That(tokens[259], Is.EqualTo("▁"));
        Assert.That(types[259..], Is.All.EqualTo(1));
        Assert.That(tokens, Is.Unique);
    }

    internal static double MaxAbsDiff(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        double max = 0;
        for (int i = 0; i < a.Count; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }
}
