using System.Diagnostics;
using Microsoft.Extensions.AI;
using Mistral.Interop;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>
/// Cancellation answers within 100 ms at any point, prompt processing included, and leaves the session usable: the
/// native forward pass watches an abort flag the session sets when the token is cancelled (between layers, and
/// inside the long matmuls and attention between their work items). The model is 4 layers of width 1024, whose
/// 1,900-token prompt takes seconds on 2 threads, so a cancel half a second in lands inside prompt processing.
/// </summary>
[TestFixture]
[NonParallelizable] // measures latency: no other test's threads on the cores meanwhile
public class CancellationTests
{
    private const int PromptTokens = 1900;
    private const int CancelAfterMs = 500;
    private const double BoundMs = 100; // issue 17: "cancellation within 100 ms at any point"

    private TempDir? _dir;
    private MistralModel? _model;

    private MistralModel Model => _model ?? throw new InvalidOperationException("The fixture is not set up.");

    [OneTimeSetUp]
    public void WriteAndLoad()
    {
        _dir = new TempDir();
        var path = _dir.File("cancel.gguf");
        SyntheticModel.Write(path, new SyntheticModelSpec
        {
            VocabSize = 512,
            EmbeddingLength = 1024,
            LayerCount = 4,
            HeadCount = 8,
            KvHeadCount = 2,
            FeedForwardLength = 3072,
            ContextLength = 2048,
            WeightType = Mistral.Gguf.GgmlType.Q8_0,
        });
        _model = MistralModel.Load(path, TestBackend.Options(MistralBackend.Cpu) with { ContextLength = 2048 });
    }

    [OneTimeTearDown]
    public void Unload()
    {
        _model?.Dispose();
        _dir?.Dispose();
    }

    /// <summary>BOS and seeded ids from the ordinary pieces (past the control and byte tokens).</summary>
    private static int[] Ids(int count, int seed)
    {
        var random = new Random(seed);
        var ids = new int[count];
        ids[0] = 1;
        for (var i = 1; i < count; i++) ids[i] = random.Next(259, 512);
        return ids;
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a token that another thread cancels after <paramref name="delayMs"/>; returns
    /// what it threw and the milliseconds from the Cancel call to the moment it returned.
    /// </summary>
    private static (Exception? Error, double LatencyMs, CancellationToken Token) CancelDuring(int delayMs, Action<CancellationToken> work)
    {
        using var cts = new CancellationTokenSource();
        long cancelledAt = 0;
        var canceller = Task.Run(async () =>
        {
            await Task.Delay(delayMs).ConfigureAwait(false);
            Volatile.Write(ref cancelledAt, Stopwatch.GetTimestamp());
            await cts.CancelAsync().ConfigureAwait(false);
        });
        Exception? error = null;
        try
        {
            work(cts.Token);
        }
        catch (Exception e)
        {
            error = e;
        }
        var returned = Stopwatch.GetTimestamp();
        canceller.Wait();
        return (error, Stopwatch.GetElapsedTime(Volatile.Read(ref cancelledAt), returned).TotalMilliseconds, cts.Token);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    [Test]
    public void Cancelling_prompt_processing_throws_within_100_ms()
    {
        using var session = Model.CreateSession();
        var prompt = Ids(PromptTokens, 1);
        var latencies = new List<double>();
        for (var trial = 0; trial < 5; trial++)
        {
            var (error, latency, token) = CancelDuring(CancelAfterMs, t => session.Complete(prompt, GenerationOptions.Greedy(1), t));
            Assert.That(error, Is.InstanceOf<OperationCanceledException>(),
                $"a {PromptTokens}-token prompt cancelled after {CancelAfterMs} ms did not throw OperationCanceledException (it finished first: the model is too small)");
            Assert.That(((OperationCanceledException)error!).CancellationToken, Is.EqualTo(token), "the exception carries the caller's token");
            Assert.That(error.Message, Does.StartWith("Evaluating tokens was cancelled: mst_decode: cancelled"), "the native core's own words");
            Assert.That(session.Position, Is.Zero, "a prompt cancelled while processed leaves the session where it was");
            latencies.Add(latency);
        }
        var median = Median(latencies);
        TestContext.Progress.WriteLine($"cancel -> OperationCanceledException during a {PromptTokens}-token prompt: median {median:F1} ms " +
                                       $"(trials {string.Join(", ", latencies.Select(l => l.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} ms)");
        // The median of five: one trial can lose its core to another process for longer than the bound on a shared
        // machine, which says nothing about when the pass saw the flag.
        Assert.That(median, Is.LessThanOrEqualTo(BoundMs), $"median latency {median:F1} ms");
    }

    [Test]
    public void A_prompt_cancelled_mid_way_leaves_the_session_as_if_never_sent()
    {
        var prefix = Ids(24, 2);
        var longPrompt = Ids(PromptTokens, 3)[1..];
        var followUp = Ids(32, 4)[1..];

        using var cancelled = Model.CreateSession();
        var first = cancelled.Complete(prefix, GenerationOptions.Greedy(4));
        var before = cancelled.Position;
        var (error, latency, _) = CancelDuring(CancelAfterMs, t => cancelled.Complete(longPrompt, GenerationOptions.Greedy(4), t));
        Assert.That(error, Is.InstanceOf<OperationCanceledException>(), "the long prompt finished before the cancel");
        Assert.That(cancelled.Position, Is.EqualTo(before), "the cancelled prompt is not in the session");
        TestContext.Progress.WriteLine($"cancel -> OperationCanceledException mid-prompt after a conversation: {latency:F1} ms");
        var after = cancelled.Complete(followUp, GenerationOptions.Greedy(8));

        // A fresh session fed the same conversation without the cancelled call: the same native calls in the same
        // batches, so the same logits bit for bit and the same greedy ids.
        using var fresh = Model.CreateSession();
        Assert.That(fresh.Complete(prefix, GenerationOptions.Greedy(4)).Tokens, Is.EqualTo(first.Tokens));
        var expected = fresh.Complete(followUp, GenerationOptions.Greedy(8));
        Assert.That(after.Tokens, Is.EqualTo(expected.Tokens));
        Assert.That(cancelled.Position, Is.EqualTo(fresh.Position));
    }

    [Test]
    public void Cancelling_during_generation_keeps_the_tokens_handed_out()
    {
        var prompt = Ids(16, 5);
        var next = Ids(12, 6)[1..];
        using var cancelled = Model.CreateSession();
        var received = new List<int>();
        var (error, latency, _) = CancelDuring(CancelAfterMs, t =>
        {
            foreach (var id in cancelled.GenerateTokens(prompt, GenerationOptions.Greedy(1500), t)) received.Add(id);
        });
        Assert.That(error, Is.InstanceOf<OperationCanceledException>(), $"generation ended by itself after {received.Count} tokens");
        Assert.That(received, Is.Not.Empty, "the cancel came after the prompt, during generation");
        TestContext.Progress.WriteLine($"cancel -> OperationCanceledException during generation (token {received.Count}): {latency:F1} ms");
        Assert.That(latency, Is.LessThanOrEqualTo(BoundMs * 2),
            "a decode step is milliseconds; twice the bound leaves room for one lost time slice on a shared machine");
        Assert.That(cancelled.Position, Is.EqualTo(prompt.Length + received.Count), "every token handed out is in the conversation");

        using var fresh = Model.CreateSession();
        Assert.That(fresh.Complete(prompt, GenerationOptions.Greedy(received.Count)).Tokens, Is.EqualTo(received));
        Assert.That(cancelled.Complete(next, GenerationOptions.Greedy(6)).Tokens, Is.EqualTo(fresh.Complete(next, GenerationOptions.Greedy(6)).Tokens));
    }

    [Test]
    public async Task Every_generating_method_given_a_cancelled_token_throws_and_leaves_the_session_alone()
    {
        var prompt = Ids(10, 7);
        var more = Ids(6, 8)[1..];
        using var session = Model.CreateSession();
        session.Complete(prompt, GenerationOptions.Greedy(3)); // leaves a pending token: the next call would feed it first
        var position = session.Position;
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var token = cts.Token;
        var options = GenerationOptions.Greedy(4);
        List<ChatMessage> chat = [new(ChatRole.User, "hello")];

        var calls = new Dictionary<string, Func<Task>>
        {
            ["MistralSession.Generate"] = () => Task.FromResult(session.Generate("go on", options, token)),
            ["MistralSession.Complete(text)"] = () => Task.FromResult(session.Complete("go on", options, token)),
            ["MistralSession.Complete(ids)"] = () => Task.FromResult(session.Complete(more, options, token)),
            ["MistralSession.GenerateTokens"] = () => Task.FromResult(session.GenerateTokens(more, options, token).ToList()),
            ["MistralSession.Evaluate"] = () => Task.FromResult(session.Evaluate(more, false, token)),
            ["MistralSession.Evaluate(span)"] = () => { session.Evaluate(more, new float[Model.Config.VocabSize], token); return Task.CompletedTask; },
            ["MistralSession.Chat"] = () => Task.FromResult(session.Chat(chat, options, token)),
            ["MistralSession.GenerateAsync"] = async () => { await foreach (var _ in session.GenerateAsync("go on", options, token)) { } },
            ["MistralSession.ChatAsync"] = async () => { await foreach (var _ in session.ChatAsync(chat, options, token)) { } },
            ["MistralModel.Generate"] = () => Task.FromResult(Model.Generate("go on", options, token)),
            ["MistralModel.GenerateAsync"] = async () => { await foreach (var _ in Model.GenerateAsync("go on", options, token)) { } },
        };
        foreach (var (name, call) in calls)
        {
            Assert.That(async () => await call(), Throws.InstanceOf<OperationCanceledException>(), name);
            Assert.That(session.Position, Is.EqualTo(position), $"{name} moved the session");
        }

        using var fresh = Model.CreateSession();
        fresh.Complete(prompt, GenerationOptions.Greedy(3));
        Assert.That(session.Complete(more, options).Tokens, Is.EqualTo(fresh.Complete(more, options).Tokens),
            "the session continues as one that was never called with the cancelled token");
    }
}

/// <summary>
/// The CUDA backend (the SIMT emulator here; see <see cref="TestBackend"/>) checks the abort flag between layers, where
/// every backend does: a prompt cancelled part way throws, and the session gives a fresh session's logits after.
/// The emulator runs kernels on the CPU far slower than a device, so the prompt's own duration sets the cancel time.
/// </summary>
[TestFixture]
[NonParallelizable]
public class CudaCancellationTests() : SmallModelFixture(MistralBackend.Cuda)
{
    [Test]
    public void A_prompt_cancelled_on_the_emulator_throws_and_leaves_the_session_as_fresh()
    {
        var prompt = new int[200];
        prompt[0] = 1;
        for (var i = 1; i < prompt.Length; i++) prompt[i] = 259 + i % 128;

        using var session = Model.CreateSession();
        session.Evaluate(prompt); // once untimed: first-use costs (device setup, page faults) would inflate the duration
        session.Reset();
        var started = Stopwatch.GetTimestamp();
        var expected = session.Evaluate(prompt);
        var full = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        session.Reset();

        using var cts = new CancellationTokenSource();
        var delay = (int)(full / 3);
        long cancelledAt = 0;
        var canceller = Task.Run(async () =>
        {
            await Task.Delay(delay).ConfigureAwait(false);
            Volatile.Write(ref cancelledAt, Stopwatch.GetTimestamp());
            await cts.CancelAsync().ConfigureAwait(false);
        });
        Assert.That(() => session.Evaluate(prompt, false, cts.Token), Throws.InstanceOf<OperationCanceledException>(),
            $"a prompt of {full:F0} ms cancelled after {delay} ms");
        var latency = Stopwatch.GetElapsedTime(Volatile.Read(ref cancelledAt)).TotalMilliseconds;
        canceller.Wait();
        TestContext.Progress.WriteLine($"CUDA emulator: a {full:F0} ms prompt cancelled at {delay} ms threw {latency:F1} ms later");
        // Checked between layers only: at most one layer of the small model's two, well before the pass would end.
        Assert.That(latency, Is.LessThan(full * 2 / 3), "the pass ran on after the cancel");
        Assert.That(session.Position, Is.Zero);
        Assert.That(session.Evaluate(prompt), Is.EqualTo(expected), "the logits after the cancel are a fresh session's");
    }
}

/// <summary>MST_ERR_CANCELLED becomes the exception .NET callers catch for cancellation, carrying their token.</summary>
[TestFixture]
public class CancelledStatusTests
{
    [Test]
    public void Cancelled_status_becomes_operation_canceled_with_the_token()
    {
        using var cts = new CancellationTokenSource();
        var exception = NativeStatus.ToException(mst_status.MST_ERR_CANCELLED, "Evaluating tokens", cts.Token);
        Assert.That(exception, Is.TypeOf<OperationCanceledException>());
        Assert.That(((OperationCanceledException)exception).CancellationToken, Is.EqualTo(cts.Token));
        Assert.That(exception.Message, Does.StartWith("Evaluating tokens was cancelled"));
    }
}
