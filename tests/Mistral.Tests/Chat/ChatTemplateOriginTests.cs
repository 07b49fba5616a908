using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Mistral.Chat;
using Mistral.Tests.Support;
using Mistral.Tests.Tokenization;
using Mistral.Tokenization;
using static Mistral.Tests.Tokenization.TestVocabularies;

namespace Mistral.Tests.Chat;

/// <summary>
/// Where a model's chat format comes from (the file's template, its tokenizer, or nothing), and that a model whose
/// file names none (a base model) is not silently chatted with in a guessed format: Chat warns, naming it.
/// </summary>
[TestFixture]
public class ChatTemplateOriginTests
{
    private static MistralTokenizer Instruct() => new(TestVocabularies.Small());

    private static MistralTokenizer Plain() => new(Build([("▁hello", -1f, TokenType.Normal)]));

    [Test]
    public void Detect_says_the_format_came_from_the_files_template()
    {
        var template = ChatTemplate.Detect("{{ '[INST] ' + m['content'] + ' [/INST]' }}", Plain(), out var origin);
        Assert.That((template.Kind, origin), Is.EqualTo((ChatTemplateKind.V1, ChatTemplateOrigin.FileTemplate)));
    }

    [Test]
    public void Detect_says_the_format_came_from_the_tokenizers_control_tokens()
    {
        var template = ChatTemplate.Detect(null, Instruct(), out var origin);
        Assert.That((template.Kind, origin), Is.EqualTo((ChatTemplateKind.V3, ChatTemplateOrigin.Tokenizer)));
    }

    [TestCase(null)]
    [TestCase("{{ '<|im_start|>' + m['content'] + '<|im_end|>' }}")]
    public void Detect_says_v1_is_only_assumed_when_nothing_names_a_format(string? jinja)
    {
        var template = ChatTemplate.Detect(jinja, Plain(), out var origin);
        Assert.That((template.Kind, origin), Is.EqualTo((ChatTemplateKind.V1, ChatTemplateOrigin.Assumed)));
    }

    [Test]
    public void Chat_on_a_model_without_a_template_warns_once_per_session_naming_the_assumed_format()
    {
        using var files = new SmallModel();
        var logger = new RecordingLogger();
        using var model = MistralModel.Load(files.Path, TestBackend.Options(MistralBackend.Cpu) with { Logger = logger });
        using var session = model.CreateSession();
        List<ChatMessage> history = [new(ChatRole.User, "hello")];
        var first = session.Chat(history, GenerationOptions.Greedy(2));
        history.Add(new(ChatRole.Assistant, first.Text));
        history.Add(new(ChatRole.User, "again"));
        session.Chat(history, GenerationOptions.Greedy(2));

        var warnings = logger.Lines.Where(l => l.Level == LogLevel.Warning).Select(l => l.Message).ToList();
        Assert.That(warnings, Has.Count.EqualTo(1), string.Join("\n", warnings));
        Assert.That(warnings[0], Is.EqualTo(
            $"{files.Path} has no chat template (no tokenizer.chat_template naming a Mistral format, no [INST] control token): chat assumes the V1 format, " +
            "which a base model was not trained on. Set ModelOptions.ChatTemplate to choose a format."));
    }

    [Test]
    public void Chat_in_a_format_chosen_explicitly_does_not_warn()
    {
        using var files = new SmallModel();
        var logger = new RecordingLogger();
        using var model = MistralModel.Load(files.Path, TestBackend.Options(MistralBackend.Cpu) with { Logger = logger, ChatTemplate = ChatTemplateKind.V1 });
        using var session = model.CreateSession();
        session.Chat([new ChatMessage(ChatRole.User, "hello")], GenerationOptions.Greedy(2));
        Assert.That(logger.Lines.Where(l => l.Level == LogLevel.Warning), Is.Empty);
    }
}
