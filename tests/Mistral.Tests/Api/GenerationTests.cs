using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>Generation, streaming, sessions and cancellation on a small model. On the CPU and on CUDA (the SIMT emulator here; see <see cref="TestBackend"/>).</summary>
[TestFixture(MistralBackend.Cpu)]
[TestFixture(MistralBackend.Cuda)]
public class GenerationTests(MistralBackend backend) : SmallModelFixture(backend)
{

    private static GenerationOptions Sampled(ulong seed, int max = 24) =>
        new() { Seed = seed, MaxTokens = max, Temperature = 1.2f, TopK = 0, TopP = 1, MinP = 0 };

    [Test]
    public void Same_seed_gives_the_same_text_and_another_seed_other_text()
    {
        var a = Model.Generate("once upon a time", Sampled(1));
        var b = Model.Generate("once upon a time", Sampled(1));
        var c = Model.Generate("once upon a time", Sampled(2));
        Assert.That(a, Is.Not.Empty);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(c, Is.Not.EqualTo(a));
    }

    [Test]
    public void Greedy_text_decodes_exactly_the_generated_ids()
    {
        using var session = Model.CreateSession();
        var result = session.Complete("the cat sat", GenerationOptions.Greedy(20));
        Assert.That(result.Tokens, Is.Not.Empty);
        Assert.That(result.Text, Is.EqualTo(Model.Tokenizer.Decode(result.Tokens.ToArray(), startsText: false)));
        Assert.That(result.PromptTokenCount, Is.EqualTo(Model.Tokenizer.Encode("the cat sat", addBos: true).Length));
    }

    [Test]
    public void Generate_tokens_from_ids_matches_generate_from_text()
    {
        var ids = Model.Tokenizer.Encode("hello there", addBos: true);
        using var s1 = Model.CreateSession();
        using var s2 = Model.CreateSession();
        var fromIds = s1.GenerateTokens(ids, GenerationOptions.Greedy(16)).ToList();
        var fromText = s2.Complete("hello there", GenerationOptions.Greedy(16)).Tokens;
        Assert.That(fromIds, Is.EqualTo(fromText));
    }

    [Test]
    public async Task Streaming_pieces_concatenate_to_the_same_text_as_generate()
    {
        var expected = Model.Generate("a story", Sampled(5, 30));
        using var session = Model.CreateSession();
        var pieces = new List<string>();
        await foreach (var piece in session.GenerateAsync("a story", Sampled(5, 30))) pieces.Add(piece);
        Assert.That(string.Concat(pieces), Is.EqualTo(expected));
        Assert.That(pieces.All(p => p.Length > 0), Is.True, "no empty pieces are streamed");
    }

    [Test]
    public void Max_tokens_bounds_the_generated_tokens()
    {
        static GenerationOptions Upto(int max) => new() { MaxTokens = max, Seed = 3, Temperature = 1, TopK = 0, TopP = 1, MinP = 0 };
        // The same seed without the bound: the sampled sequence is the same, so the bounded run is its first 5 tokens.
        using var free = Model.CreateSession();
        var unbounded = free.Complete("x", Upto(50));
        Assert.That(unbounded.Tokens, Has.Count.GreaterThan(5), "this seed must run past 5 tokens for the bound to matter");
        using var session = Model.CreateSession();
        var result = session.Complete("x", Upto(5));
        Assert.That(result.Tokens, Is.EqualTo(unbounded.Tokens.Take(5)));
        Assert.That(result.FinishReason, Is.EqualTo(FinishReason.MaxTokens));
    }

    [Test]
    public void A_stop_string_ends_generation_and_is_not_returned()
    {
        var free = Model.Generate("the", Sampled(9, 40));
        Assume.That(free.Length, Is.GreaterThan(6), "the free run must produce text to cut");
        var stop = free.Substring(free.Length / 2, 2);
        var cut = Model.Generate("the", new GenerationOptions { Seed = 9, MaxTokens = 40, Temperature = 1.2f, TopK = 0, TopP = 1, MinP = 0, StopStrings = [stop] });
        Assert.That(cut, Is.EqualTo(free[..free.IndexOf(stop, StringComparison.Ordinal)]));
    }

    [Test]
    public void A_session_continues_the_conversation_from_its_cache()
    {
        // Generating in two turns must equal evaluating the whole history at once.
        using var session = Model.CreateSession();
        var first = session.Complete("one two", GenerationOptions.Greedy(4));
        var positionAfterFirst = session.Position;
        Assert.That(positionAfterFirst, Is.EqualTo(first.PromptTokenCount + first.Tokens.Count));
        var second = session.Complete(" three", GenerationOptions.Greedy(4));

        var history = Model.Tokenizer.Encode("one two", addBos: true).Concat(first.Tokens).Concat(Model.Tokenizer.Encode(" three", addBos: false)).ToArray();
        using var fresh = Model.CreateSession();
        var expected = fresh.GenerateTokens(history, GenerationOptions.Greedy(4)).ToList();
        Assert.That(second.Tokens, Is.EqualTo(expected));
    }

    [Test]
    public void Evaluate_all_logits_equals_evaluating_one_by_one()
    {
        var ids = Model.Tokenizer.Encode("abc def", addBos: true);
        using var batch = Model.CreateSession();
        var all = batch.Evaluate(ids, allLogits: true);
        using var single = Model.CreateSession();
        var vocab = Model.Config.VocabSize;
        for (var t = 0; t < ids.Length; t++)
        {
            var step = single.Evaluate([ids[t]]);
            var row = all.AsSpan(t * vocab, vocab).ToArray();
            // Same weights, same float32 kernels; only the batching differs, so agreement is to rounding.
            Assert.That(step, Is.EqualTo(row).Within(1e-4f), $"position {t}");
        }
    }

    [Test]
    public void Truncate_rewinds_the_cache_so_the_same_step_gives_the_same_logits()
    {
        using var session = Model.CreateSession();
        var ids = Model.Tokenizer.Encode("rewind me", addBos: true);
        session.Evaluate(ids);
        var before = session.Evaluate([42]);
        session.Truncate(ids.Length);
        Assert.That(session.Position, Is.EqualTo(ids.Length));
        Assert.That(session.Evaluate([42]), Is.EqualTo(before));
    }

    [Test]
    public void Cancellation_stops_promptly_and_leaves_the_session_usable()
    {
        using var session = Model.CreateSession();
        using var cts = new CancellationTokenSource();
        var count = 0;
        Assert.That(() =>
        {
            foreach (var _ in session.GenerateTokens(Model.Tokenizer.Encode("go", true), new GenerationOptions { MaxTokens = 100, Seed = 1 }, cts.Token))
            {
                if (++count == 3) cts.Cancel();
            }
        }, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(count, Is.EqualTo(3));
        session.Reset();
        Assert.That(session.Generate("again", GenerationOptions.Greedy(3)), Is.EqualTo(Model.Generate("again", GenerationOptions.Greedy(3))));
    }

    [Test]
    public void Async_cancellation_throws_operation_canceled()
    {
        using var session = Model.CreateSession();
        using var cts = new CancellationTokenSource();
        Assert.That(async () =>
        {
            await foreach (var _ in session.GenerateAsync("go", new GenerationOptions { MaxTokens = 100, Seed = 1 }, cts.Token))
                await cts.CancelAsync();
        }, Throws.InstanceOf<OperationCanceledException>());
    }
}
