using Microsoft.Extensions.AI;
using Mistral.Chat;
using Mistral.Tests.Support;

namespace Mistral.Tests.Chat;

/// <summary>Chat on a session: templates and KV cache reuse across turns. On the CPU and on CUDA (the SIMT emulator here; see <see cref="TestBackend"/>).</summary>
[TestFixture(MistralBackend.Cpu)]
[TestFixture(MistralBackend.Cuda)]
public class SessionChatTests(MistralBackend backend) : SmallModelFixture(backend)
{

    [Test]
    public void A_synthetic_model_without_inst_tokens_gets_the_v1_template()
    {
        Assert.That(Model.ChatTemplate.Kind, Is.EqualTo(ChatTemplateKind.V1));
    }

    [Test]
    public void A_follow_up_turn_evaluates_only_its_new_tokens_and_answers_as_a_fresh_session_would()
    {
        using var session = Model.CreateSession();
        var first = session.Chat([new ChatMessage(ChatRole.User, "hello there")], GenerationOptions.Greedy(8));
        Assert.That(first.PromptTokenCount, Is.EqualTo(Model.ChatTemplate.Tokenize([new ChatMessage(ChatRole.User, "hello there")], Model.Tokenizer).Length));
        var held = session.Position;

        ChatMessage[] history = [new ChatMessage(ChatRole.User, "hello there"), new ChatMessage(ChatRole.Assistant, first.Text), new ChatMessage(ChatRole.User, "and then")];
        var second = session.Chat(history, GenerationOptions.Greedy(8));

        // What a fresh session evaluates: the whole conversation, with the first answer as the ids it was generated as.
        var full = Model.ChatTemplate.Tokenize(ChatTurn.From(history), Model.Tokenizer, text => text == first.Text ? first.Tokens : null);
        Assert.That(second.PromptTokenCount, Is.EqualTo(full.Length - held));
        Assert.That(second.PromptTokenCount, Is.LessThan(full.Length));

        using var fresh = Model.CreateSession();
        var expected = fresh.Complete(full, GenerationOptions.Greedy(8));
        Assert.That(second.Tokens, Is.EqualTo(expected.Tokens));
        Assert.That(expected.PromptTokenCount, Is.EqualTo(full.Length));
    }

    [Test]
    public void A_history_that_diverges_is_re_evaluated_from_the_first_difference()
    {
        using var session = Model.CreateSession();
        session.Chat([new ChatMessage(ChatRole.User, "hello there")], GenerationOptions.Greedy(4));
        ChatMessage[] edited = [new ChatMessage(ChatRole.User, "goodbye")];
        var answer = session.Chat(edited, GenerationOptions.Greedy(6));

        var full = Model.ChatTemplate.Tokenize(edited, Model.Tokenizer);
        // The cache keeps the longest common start of the old prompt and the new one (BOS and the template's opening);
        // everything after it is evaluated again.
        var old = Model.ChatTemplate.Tokenize([new ChatMessage(ChatRole.User, "hello there")], Model.Tokenizer);
        var shared = old.Zip(full).TakeWhile(pair => pair.First == pair.Second).Count();
        Assert.That(shared, Is.InRange(1, full.Length - 1), "the two prompts share a start and then differ");
        Assert.That(answer.PromptTokenCount, Is.EqualTo(full.Length - shared));
        using var fresh = Model.CreateSession();
        Assert.That(answer.Tokens, Is.EqualTo(fresh.Chat(edited, GenerationOptions.Greedy(6)).Tokens));
    }

    [Test]
    public void Asking_the_same_conversation_again_re_evaluates_one_token_and_repeats_the_greedy_answer()
    {
        using var session = Model.CreateSession();
        ChatMessage[] once = [new ChatMessage(ChatRole.User, "hello")];
        var a = session.Chat(once, GenerationOptions.Greedy(5));
        var b = session.Chat(once, GenerationOptions.Greedy(5));
        Assert.That(b.PromptTokenCount, Is.EqualTo(1));
        Assert.That(b.Tokens, Is.EqualTo(a.Tokens));
    }

    [Test]
    public async Task Streaming_chat_gives_the_same_text_as_chat()
    {
        var options = new GenerationOptions { Seed = 7, Temperature = 1.1f, MaxTokens = 12, TopK = 0, TopP = 1, MinP = 0 };
        ChatMessage[] messages = [new ChatMessage(ChatRole.System, "be kind"), new ChatMessage(ChatRole.User, "hello world")];
        using var one = Model.CreateSession();
        var whole = one.Chat(messages, options).Text;
        using var two = Model.CreateSession();
        var pieces = new List<string>();
        await foreach (var piece in two.ChatAsync(messages, options)) pieces.Add(piece);
        Assert.That(string.Concat(pieces), Is.EqualTo(whole));
        Assert.That(whole, Is.Not.Empty);
    }

    [Test]
    public void The_template_can_be_forced_and_a_missing_control_token_is_explained()
    {
        using var model = MistralModel.Load(Files.Path, TestBackend.Options(Backend) with { ChatTemplate = ChatTemplateKind.V3 });
        Assert.That(model.ChatTemplate.Kind, Is.EqualTo(ChatTemplateKind.V3));
        using var session = model.CreateSession();
        var ex = Assert.Throws<ArgumentException>(() => session.Chat([new ChatMessage(ChatRole.User, "hello")]));
        Assert.That(ex!.Message, Does.Contain("[INST]"));
    }
}
