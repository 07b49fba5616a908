using Mistral.Generation;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>
/// Greedy generation through mst_decode_greedy (the native core picks each decode step's token; on CUDA the logits
/// stay on the device) against the path that brings the logits back and samples them in C#
/// (<see cref="GenerationRun.SampleOnHost"/>): the same tokens, text and finish, token for token, on the CPU and on
/// CUDA (the SIMT emulator here; see <see cref="TestBackend"/>). Exact: the same passes, then the same ArgMax rule.
/// </summary>
[TestFixture(MistralBackend.Cpu)]
[TestFixture(MistralBackend.Cuda)]
public class NativeGreedyTests(MistralBackend backend) : SmallModelFixture(backend)
{
    private static (GenerationResult Result, int NativeSteps) Run(MistralSession session, string prompt, GenerationOptions options, bool onHost)
    {
        var before = session.GreedyDecodeSteps;
        GenerationRun.SampleOnHost.Value = onHost;
        try
        {
            var result = session.Complete(prompt, options);
            return (result, session.GreedyDecodeSteps - before);
        }
        finally
        {
            GenerationRun.SampleOnHost.Value = false;
        }
    }

    [Test]
    public void Native_greedy_generates_the_same_tokens_as_sampling_the_logits()
    {
        using var fast = Model.CreateSession();
        using var host = Model.CreateSession();
        // Two turns: the second starts with the first's unevaluated last token (the session's pending token).
        foreach (var prompt in new[] { "the cat sat", " and then" })
        {
            var (a, nativeSteps) = Run(fast, prompt, GenerationOptions.Greedy(24), onHost: false);
            var (b, hostSteps) = Run(host, prompt, GenerationOptions.Greedy(24), onHost: true);
            Assume.That(b.Tokens, Has.Count.GreaterThan(3), "the model must generate a few tokens for the comparison to mean anything");
            Assert.That(a.Tokens, Is.EqualTo(b.Tokens), $"tokens after \"{prompt}\"");
            Assert.That(a.Text, Is.EqualTo(b.Text));
            Assert.That(a.FinishReason, Is.EqualTo(b.FinishReason));
            Assert.That(nativeSteps, Is.EqualTo(a.DecodeSteps).And.GreaterThan(0), "every decode step went through mst_decode_greedy");
            Assert.That(hostSteps, Is.Zero, "SampleOnHost takes the logits path");
            Assert.That(fast.Position, Is.EqualTo(host.Position));
        }
    }

    [Test]
    public void Options_that_read_the_logits_keep_the_logits_path()
    {
        using var session = Model.CreateSession();
        var penalised = GenerationOptions.Greedy(8) with { RepetitionPenalty = 1.3f };
        var (result, nativeSteps) = Run(session, "the cat sat", penalised, onHost: false);
        Assume.That(result.DecodeSteps, Is.GreaterThan(0));
        Assert.That(nativeSteps, Is.Zero, "a repetition penalty changes the logits before ArgMax: the C# sampler must see them");
        var sampled = new GenerationOptions { MaxTokens = 8, Temperature = 0.7f, Seed = 1 };
        (result, nativeSteps) = Run(session, " more", sampled, onHost: false);
        Assert.That(nativeSteps, Is.Zero, "sampling at a temperature needs the logits");
    }
}
