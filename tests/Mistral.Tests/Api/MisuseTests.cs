using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>Wrong use of the API, and concurrent sessions, on the CPU and on CUDA (the SIMT emulator here; see <see cref="TestBackend"/>).</summary>
[TestFixture(MistralBackend.Cpu)]
[TestFixture(MistralBackend.Cuda)]
public class MisuseTests(MistralBackend backend)
{
    private SmallModel _files = null!;

    [OneTimeSetUp]
    public void Write()
    {
        TestBackend.Require(backend);
        _files = new SmallModel(contextLength: 64);
    }

    [OneTimeTearDown]
    public void Delete() => _files?.Dispose();

    [Test]
    public void Use_after_dispose_throws_object_disposed_and_double_dispose_is_harmless()
    {
        var model = _files.Load(backend: backend);
        var session = model.CreateSession();
        session.Dispose();
        session.Dispose();
        Assert.That(() => session.Generate("x"), Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(() => session.Evaluate([1]), Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(() => session.Position, Throws.InstanceOf<ObjectDisposedException>());
        model.Dispose();
        model.Dispose();
        Assert.That(() => model.CreateSession(), Throws.InstanceOf<ObjectDisposedException>());
    }

    [Test]
    public void A_session_outlives_a_disposed_model_and_still_gives_the_same_answer()
    {
        var model = _files.Load(backend: backend);
        var expected = model.Generate("keep", GenerationOptions.Greedy(5));
        var session = model.CreateSession();
        model.Dispose();
        Assert.That(session.Generate("keep", GenerationOptions.Greedy(5)), Is.EqualTo(expected));
        session.Dispose();
    }

    [Test]
    public void A_prompt_longer_than_the_context_is_refused_before_anything_is_evaluated()
    {
        using var model = _files.Load(backend: backend);
        using var session = model.CreateSession(new SessionOptions { ContextLength = 16 });
        var longPrompt = string.Join(' ', Enumerable.Repeat("word", 40));
        var ex = Assert.Throws<ContextFullException>(() => session.Generate(longPrompt));
        Assert.That(ex!.Message, Does.Contain("16"));
        Assert.That(session.Position, Is.Zero, "nothing was written to the cache");
        Assert.That(() => session.Evaluate(Enumerable.Repeat(5, 17).ToArray()), Throws.InstanceOf<ContextFullException>());
    }

    [Test]
    public void Generation_that_fills_the_context_stops_with_context_full()
    {
        using var model = _files.Load(backend: backend);
        using var session = model.CreateSession(new SessionOptions { ContextLength = 12 });
        var result = session.Complete([1, 300, 301, 302], new GenerationOptions { MaxTokens = 100, Seed = 4, Temperature = 1, TopK = 0, TopP = 1, MinP = 0 });
        if (result.FinishReason != FinishReason.EndOfSequence)
        {
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.ContextFull));
            Assert.That(session.Position, Is.EqualTo(12));
        }
    }

    [Test]
    public void Token_ids_outside_the_vocabulary_are_refused_with_their_value()
    {
        using var model = _files.Load(backend: backend);
        using var session = model.CreateSession();
        var ex = Assert.Throws<ArgumentException>(() => session.Evaluate([1, 100000]));
        Assert.That(ex!.Message, Does.Contain("100000"));
        Assert.That(() => session.Evaluate([-1]), Throws.ArgumentException);
        Assert.That(session.Position, Is.Zero);
    }

    [TestCase(nameof(GenerationOptions.MaxTokens))]
    [TestCase(nameof(GenerationOptions.Temperature))]
    [TestCase(nameof(GenerationOptions.TopP))]
    [TestCase(nameof(GenerationOptions.MinP))]
    [TestCase(nameof(GenerationOptions.TopK))]
    [TestCase(nameof(GenerationOptions.RepetitionPenalty))]
    public void Invalid_options_are_rejected_naming_the_option(string name)
    {
        var options = name switch
        {
            nameof(GenerationOptions.MaxTokens) => new GenerationOptions { MaxTokens = 0 },
            nameof(GenerationOptions.Temperature) => new GenerationOptions { Temperature = -1 },
            nameof(GenerationOptions.TopP) => new GenerationOptions { TopP = 0 },
            nameof(GenerationOptions.MinP) => new GenerationOptions { MinP = 1.5f },
            nameof(GenerationOptions.TopK) => new GenerationOptions { TopK = -3 },
            _ => new GenerationOptions { RepetitionPenalty = 0 },
        };
        using var model = _files.Load(backend: backend);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => model.Generate("x", options));
        Assert.That(ex!.ParamName, Is.EqualTo(name));
    }

    [Test]
    public void A_session_used_from_two_threads_at_once_refuses_the_second()
    {
        using var model = _files.Load(backend: backend);
        using var session = model.CreateSession();
        using var first = session.GenerateTokens([1, 300], new GenerationOptions { MaxTokens = 50, Seed = 1 }).GetEnumerator();
        Assert.That(first.MoveNext(), Is.True); // the first caller is mid-generation and holds the session
        var error = Task.Run(() => Assert.Throws<InvalidOperationException>(() => session.Evaluate([5]))).Result;
        Assert.That(error!.Message, Does.Contain("already in use"));
    }

    [Test]
    public void Many_sessions_on_one_model_in_parallel_each_match_a_lone_run()
    {
        using var model = _files.Load(threads: 1, backend: backend);
        var prompts = Enumerable.Range(0, 6).Select(i => $"prompt number {i}").ToArray();
        var alone = prompts.Select((p, i) => model.Generate(p, new GenerationOptions { Seed = (ulong)i, MaxTokens = 12 })).ToArray();
        var together = new string[prompts.Length];
        Parallel.For(0, prompts.Length, new ParallelOptions { MaxDegreeOfParallelism = 6 }, i =>
        {
            using var session = model.CreateSession(new SessionOptions { Threads = 1 });
            together[i] = session.Generate(prompts[i], new GenerationOptions { Seed = (ulong)i, MaxTokens = 12 });
        });
        Assert.That(together, Is.EqualTo(alone));
    }
}
