using Mistral.Conformance.LlamaCpp;
using Mistral.Gguf;
using Mistral.Tests.Models;

namespace Mistral.Conformance;

/// <summary>
/// llama.cpp cannot be the oracle for the sliding window: for the GGUF "llama" architecture it ignores
/// <c>llama.attention.sliding_window</c> and always attends to the whole context. This test pins that fact down
/// so nobody "fixes" our window to match llama.cpp: on a file with a window of 8, llama.cpp matches a full-
/// attention reference and differs from a windowed one past position 8, while we match the windowed reference.
/// (Our windowed attention is checked in depth against the reference in Mistral.Tests' differential tests.)
/// </summary>
[TestFixture]
public sealed class SlidingWindowConformanceTests
{
    private const int Window = 8;

    [Test]
    public void Llama_cpp_ignores_the_sliding_window_while_we_apply_it()
    {
        var spec = TinyModelSpec.BlockAligned(GgmlType.F32) with { SlidingWindow = Window };
        using var tiny = TinyModelFactory.Create(spec);
        var prompt = ConformanceCases.Prompt(24, spec.VocabSize, seed: 21);
        var windowed = tiny.CreateReference().Forward(prompt);
        var full = tiny.CreateReference(slidingWindow: 0).Forward(prompt);

        float[] llama;
        using (var model = LlamaCppModel.Load(tiny.Path, ConformanceCases.ContextLength, ConformanceCases.Threads))
            llama = model.EvaluateAll(prompt);
        float[] ours;
        using (var model = MistralModel.Load(tiny.Path, new ModelOptions { Threads = ConformanceCases.Threads, ContextLength = ConformanceCases.ContextLength }))
        using (var session = model.CreateSession(ConformanceCases.Session))
            ours = session.Evaluate(prompt, allLogits: true);

        var vocab = spec.VocabSize;
        // F32 weights and cache: both engines agree with the double reference to ~1e-6 relative (see
        // ConformanceCases.RelativeTolerance), so 1e-3 absolute on logits of magnitude ~8 is a safe "same";
        // leaving the window out changes late logits by O(0.1-1), so 5e-2 is a safe "different".
        const double same = 1e-3;
        const double different = 5e-2;
        Assert.Multiple(() =>
        {
            Assert.That(MaxDiff(llama, full, vocab, 0, prompt.Length), Is.LessThan(same), "llama.cpp vs full-attention reference");
            Assert.That(MaxDiff(ours, windowed, vocab, 0, prompt.Length), Is.LessThan(same), "ours vs windowed reference");
            // Inside the window the two attentions see the same keys, so all four agree there.
            Assert.That(MaxDiff(llama, windowed, vocab, 0, Window), Is.LessThan(same), "llama.cpp vs windowed reference, first 8 positions");
            Assert.That(MaxDiff(llama, windowed, vocab, Window, prompt.Length), Is.GreaterThan(different),
                "llama.cpp now honours the sliding window for the llama architecture: switch this test to an oracle check");
        });
        TestContext.Out.WriteLine(
            $"past the window: max |llama.cpp - windowed reference| = {MaxDiff(llama, windowed, vocab, Window, prompt.Length):E3}, "
            + $"max |ours - windowed reference| = {MaxDiff(ours, windowed, vocab, 0, prompt.Length):E3}");
    }

    private static double MaxDiff(float[] actual, double[][] expected, int vocab, int from, int to)
    {
        var max = 0.0;
        for (var p = from; p < to; p++)
        {
            for (var v = 0; v < vocab; v++)
                max = Math.Max(max, Math.Abs(actual[p * vocab + v] - expected[p][v]));
        }
        return max;
    }
}
