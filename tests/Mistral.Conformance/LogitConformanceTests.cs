using Mistral.Conformance.LlamaCpp;
using Mistral.Tests.Models;

namespace Mistral.Conformance;

/// <summary>The same GGUF file, the same prompt: our logits against llama.cpp's at every position.</summary>
[TestFixture]
[Parallelizable(ParallelScope.None)] // each test already runs two engines; running tests side by side only adds contention
public sealed class LogitConformanceTests
{
    private static IEnumerable<ConformanceCase> Cases() => ConformanceCases.All();

    [TestCaseSource(nameof(Cases))]
    public void Prompt_logits_agree_with_llama_cpp(ConformanceCase c)
    {
        using var tiny = TinyModelFactory.Create(c.Spec);
        var prompt = ConformanceCases.Prompt(24, c.Spec.VocabSize, seed: 5);

        float[] expected;
        using (var llama = LlamaCppModel.Load(tiny.Path, ConformanceCases.ContextLength, ConformanceCases.Threads))
        {
            Assert.That(llama.VocabSize, Is.EqualTo(c.Spec.VocabSize), "llama.cpp read a different vocabulary size");
            expected = llama.EvaluateAll(prompt);
        }

        float[] actual;
        using (var model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = ConformanceCases.Threads, ContextLength = ConformanceCases.ContextLength }))
        using (var session = model.CreateSession(ConformanceCases.Session))
            actual = session.Evaluate(prompt, allLogits: true);

        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        var scale = expected.Max(MathF.Abs);
        var maxDiff = 0.0;
        for (var i = 0; i < expected.Length; i++)
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));

        var relative = maxDiff / scale;
        var tolerance = ConformanceCases.RelativeTolerance(c.WeightType);
        TestContext.Out.WriteLine(
            $"{c}: max |ours - llama.cpp| = {maxDiff:E3} over {prompt.Length} positions, max |logit| = {scale:F3}, "
            + $"relative {relative:E3} (tolerance {tolerance:E0}); llama.cpp CPU build {LlamaCppRuntime.Avx}");
        // A degenerate model (all logits zero) would make any comparison pass.
        Assert.That(scale, Is.GreaterThan(1.0), "llama.cpp's logits are suspiciously small");
        Assert.That(relative, Is.LessThanOrEqualTo(tolerance));
    }
}
