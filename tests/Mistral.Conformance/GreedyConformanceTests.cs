using Mistral.Conformance.LlamaCpp;
using Mistral.Tests.Models;

namespace Mistral.Conformance;

/// <summary>Greedy continuations of the same prompt in both engines.</summary>
/// <remarks>
/// The rule: the 32 tokens must be identical, except that the two engines may part at a step where
/// llama.cpp's own top-1 margin (best minus second-best logit) is below twice the logit tolerance of
/// <see cref="ConformanceCases.RelativeTolerance"/>. Each logit may differ by up to that tolerance, so two logits
/// closer than twice it are a tie neither engine is wrong about; a parting anywhere else is a failure. After a
/// parting the two continue from different tokens, so the comparison stops there, and the test prints where it
/// stopped and why. For F32 the tolerance is 1e-4 relative, so in practice the sequences must be identical.
/// A second test covers every one of the 32 steps regardless of partings: it feeds llama.cpp's tokens to our
/// session one at a time (the KV-cached decode path) and checks each step's logits and arg-max.
/// </remarks>
[TestFixture]
[Parallelizable(ParallelScope.None)]
public sealed class GreedyConformanceTests
{
    private const int Steps = 32;

    private static IEnumerable<ConformanceCase> Cases() => ConformanceCases.All();

    [TestCaseSource(nameof(Cases))]
    public void Greedy_continuation_agrees_with_llama_cpp(ConformanceCase c)
    {
        using var tiny = TinyModelFactory.Create(c.Spec);
        var prompt = ConformanceCases.Prompt(12, c.Spec.VocabSize, seed: 11);

        int[] expected;
        float[][] llamaSteps;
        using (var llama = LlamaCppModel.Load(tiny.Path, ConformanceCases.ContextLength, ConformanceCases.Threads))
            (expected, llamaSteps) = llama.Greedy(prompt, Steps);

        int[] actual;
        using (var model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = ConformanceCases.Threads, ContextLength = ConformanceCases.ContextLength }))
        using (var session = model.CreateSession(ConformanceCases.Session))
            actual = [.. session.GenerateTokens(prompt, GenerationOptions.Greedy(Steps))];

        // llama.cpp is driven without stop rules; our generator stops at EOS (and does not return it).
        var eos = Array.IndexOf(expected, TinyModelFactory.EosId);
        var comparable = eos >= 0 ? eos : Steps;

        var tolerance = ConformanceCases.RelativeTolerance(c.WeightType);
        for (var step = 0; step < comparable; step++)
        {
            Assert.That(actual, Has.Length.GreaterThan(step),
                $"{c}: we stopped after {actual.Length} tokens; llama.cpp continued with {expected[step]}");
            if (actual[step] == expected[step])
                continue;

            var (margin, allowed) = Margin(llamaSteps[step], tolerance);
            TestContext.Out.WriteLine(
                $"{c}: parted at step {step} (ours {actual[step]}, llama.cpp {expected[step]}); llama.cpp's top-1 margin "
                + $"{margin:E3}, near-tie threshold {allowed:E3}");
            Assert.That(margin, Is.LessThan(allowed),
                $"{c}: greedy tokens differ at step {step} although llama.cpp's choice was not a near-tie.\n"
                + $"llama.cpp: [{string.Join(",", expected)}]\nours:      [{string.Join(",", actual)}]");
            return;
        }

        Assert.That(actual, Has.Length.EqualTo(comparable), $"{c}: we generated past llama.cpp's EOS");
        var minMargin = Enumerable.Range(0, comparable).Min(s => Margin(llamaSteps[s], tolerance).Margin);
        TestContext.Out.WriteLine($"{c}: all {comparable} greedy tokens identical; smallest llama.cpp top-1 margin {minMargin:E3}");
    }

    [TestCaseSource(nameof(Cases))]
    public void Step_by_step_decode_on_llama_cpp_path_agrees(ConformanceCase c)
    {
        using var tiny = TinyModelFactory.Create(c.Spec);
        var prompt = ConformanceCases.Prompt(12, c.Spec.VocabSize, seed: 11);

        int[] path;
        float[][] llamaSteps;
        using (var llama = LlamaCppModel.Load(tiny.Path, ConformanceCases.ContextLength, ConformanceCases.Threads))
            (path, llamaSteps) = llama.Greedy(prompt, Steps);

        var tolerance = ConformanceCases.RelativeTolerance(c.WeightType);
        using var model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = ConformanceCases.Threads, ContextLength = ConformanceCases.ContextLength });
        using var session = model.CreateSession(ConformanceCases.Session);
        var logits = session.Evaluate(prompt);
        var decisive = 0;
        var worst = 0.0;
        for (var step = 0; step < Steps; step++)
        {
            var expected = llamaSteps[step];
            var scale = expected.Max(MathF.Abs);
            var diff = 0.0;
            for (var i = 0; i < expected.Length; i++)
                diff = Math.Max(diff, Math.Abs((double)logits[i] - expected[i]));
            worst = Math.Max(worst, diff / scale);
            Assert.That(diff / scale, Is.LessThanOrEqualTo(tolerance), $"{c}: logits at decode step {step}");

            var (margin, allowed) = Margin(expected, tolerance);
            if (margin >= allowed)
            {
                decisive++;
                Assert.That(LlamaCppModel.ArgMax(logits), Is.EqualTo(path[step]),
                    $"{c}: arg-max at decode step {step} differs although llama.cpp's margin {margin:E3} is decisive");
            }
            if (step + 1 < Steps)
                logits = session.Evaluate([path[step]]);
        }
        TestContext.Out.WriteLine(
            $"{c}: {Steps} decode steps on llama.cpp's path, worst relative logit error {worst:E3}; "
            + $"arg-max compared at the {decisive} steps whose margin exceeds the near-tie threshold");
    }

    /// <summary>llama.cpp's top-1 margin at one step and the near-tie threshold (2 × tolerance × max |logit|).</summary>
    private static (double Margin, double Allowed) Margin(float[] logits, double relativeTolerance)
    {
        var best = float.NegativeInfinity;
        var second = float.NegativeInfinity;
        foreach (var v in logits)
        {
            if (v > best)
            {
                second = best;
                best = v;
            }
            else if (v > second)
                second = v;
        }
        return ((double)best - second, 2 * relativeTolerance * logits.Max(MathF.Abs));
    }
}
