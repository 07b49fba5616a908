using Mistral.Gguf;
using Mistral.Tests.Support;
using NUnit.Framework;

namespace Mistral.Tests.Differential;

/// <summary>
/// A sliding-window model's session keeps generating past its ContextLength (the KV cache rolls) with memory
/// bounded by window + batch - 1 rows per layer; a full-attention model with the same context stops with
/// ContextFull. Logit agreement on a rolling cache is <see cref="NativeVsReferenceTests"/>' job. On the CPU and on
/// CUDA (the SIMT emulator here; see <see cref="TestBackend"/>).
/// </summary>
[TestFixture(MistralBackend.Cpu)]
[TestFixture(MistralBackend.Cuda)]
public sealed class RollingCacheSessionTests(MistralBackend backend)
{
    private const int Context = 32;
    private const int Window = 8;
    private const int Batch = 4;

    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void Create()
    {
        TestBackend.Require(backend);
        _dir = new TempDir();
    }

    [OneTimeTearDown]
    public void Delete() => _dir?.Dispose();

    private string Write(string name, int window)
    {
        var path = _dir.File(name + ".gguf");
        SyntheticModel.Write(path, new SyntheticModelSpec
        {
            VocabSize = 300, EmbeddingLength = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2,
            FeedForwardLength = 96, ContextLength = 4096, WeightType = GgmlType.Q8_0, SlidingWindow = window,
        });
        return path;
    }

    [Test]
    public void A_windowed_session_generates_three_contexts_worth_of_tokens_in_bounded_memory()
    {
        using var model = MistralModel.Load(Write("windowed", Window), TestBackend.Options(backend));
        using var session = model.CreateSession(new SessionOptions { ContextLength = Context, BatchSize = Batch });
        Assert.That(session.CacheSlots, Is.EqualTo(Window + Batch - 1), "rows per layer: window + batch - 1, not the context");
        Assert.That(session.PositionLimit, Is.EqualTo(int.MaxValue));

        // Greedy on a random model: it could emit EOS by chance, which would end the run early for a reason that
        // says nothing about the cache; that outcome is reported as inconclusive, never as a pass.
        int[] prompt = [1, 300 - 1, 280, 270, 5];
        var result = session.Complete(prompt, new GenerationOptions { MaxTokens = 3 * Context, Temperature = 0, AddBos = false });
        if (result.FinishReason == FinishReason.EndOfSequence)
            Assert.Inconclusive($"the random model emitted EOS after {result.Tokens.Count} tokens");
        Assert.That(result.FinishReason, Is.EqualTo(FinishReason.MaxTokens));
        Assert.That(result.Tokens, Has.Count.EqualTo(3 * Context));
        Assert.That(session.Position, Is.GreaterThan(3 * Context), "the session went far past its ContextLength");
        Assert.That(session.CacheSlots, Is.EqualTo(Window + Batch - 1), "the cache did not grow");
    }

    [Test]
    public void A_full_attention_session_with_the_same_context_stops_with_ContextFull()
    {
        using var model = MistralModel.Load(Write("full", 0), TestBackend.Options(backend));
        using var session = model.CreateSession(new SessionOptions { ContextLength = Context, BatchSize = Batch });
        Assert.That((session.CacheSlots, session.PositionLimit), Is.EqualTo((Context, Context)));
        var result = session.Complete([1, 299, 280, 270, 5], new GenerationOptions { MaxTokens = 3 * Context, Temperature = 0, AddBos = false });
        if (result.FinishReason == FinishReason.EndOfSequence)
            Assert.Inconclusive($"the random model emitted EOS after {result.Tokens.Count} tokens");
        Assert.That(result.FinishReason, Is.EqualTo(FinishReason.ContextFull));
        Assert.That(session.Position, Is.LessThanOrEqualTo(Context));
    }

    [Test]
    public void Truncating_into_the_rolled_out_past_is_refused_and_within_the_window_works()
    {
        using var model = MistralModel.Load(Write("truncate", Window), TestBackend.Options(backend));
        using var session = model.CreateSession(new SessionOptions { ContextLength = Context, BatchSize = Batch });
        int[] tokens = [.. Enumerable.Range(0, 3 * Context).Select(i => 3 + ((i * 41) % 290))];
        session.Evaluate(tokens);
        int position = session.Position;
        // 11 rows hold positions position-11 .. position-1; the token at p needs p-7 .. p-1.
        Assert.That(() => session.Truncate(position - 10), Throws.InstanceOf<ArgumentException>().With.Message.Contains("rolling"));
        Assert.That(session.Position, Is.EqualTo(position), "a refused truncate leaves the session as it was");
        session.Truncate(position - 3);
        Assert.That(session.Position, Is.EqualTo(position - 3));
    }
}
