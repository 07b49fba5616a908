using Microsoft.Extensions.AI;
using System.Text;
using Mistral.Chat;
using Mistral.Tests.Tokenization;
using Mistral.Tokenization;
using static Mistral.Tests.Tokenization.TestVocabularies;

namespace Mistral.Tests.Chat;

[TestFixture]
public class ChatTemplateTests
{
    private static readonly ChatMessage[] TwoTurns =
    [
        new ChatMessage(ChatRole.User, "hello"),
        new ChatMessage(ChatRole.Assistant, "world"),
        new ChatMessage(ChatRole.User, "hello world"),
    ];

    private static MistralTokenizer Small(bool addSpacePrefix = true) => new(TestVocabularies.Small(addSpacePrefix));

    private static int[] Bytes(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => ByteId(b))];

    [Test]
    public void V1_renders_inst_as_text_with_sentencepiece_spaces()
    {
        Assert.That(ChatTemplate.V1.Render(TwoTurns),
            Is.EqualTo("<s> [INST] hello [/INST] world</s> [INST] hello world [/INST]"));
    }

    [Test]
    public void V1_tokenizes_each_message_alone_and_never_uses_the_inst_control_tokens()
    {
        int[] expected =
        [
            Bos, Id("▁"), .. Bytes("[INST]"), Id("▁hello"), Id("▁"), .. Bytes("[/INST]"),
            Id("▁world"), Eos,
            Id("▁"), .. Bytes("[INST]"), Id("▁hello"), Id("▁world"), Id("▁"), .. Bytes("[/INST]"),
        ];
        Assert.That(ChatTemplate.V1.Tokenize(TwoTurns, Small()), Is.EqualTo(expected));
    }

    [Test]
    public void V3_uses_control_tokens_and_the_tokenizers_space_prefix()
    {
        Assert.That(ChatTemplate.V3.Render(TwoTurns), Is.EqualTo("<s>[INST] hello[/INST] world</s>[INST] hello world[/INST]"));
        int[] expected =
        [
            Bos, Id("[INST]"), Id("▁hello"), Id("[/INST]"), Id("▁world"), Eos,
            Id("[INST]"), Id("▁hello"), Id("▁world"), Id("[/INST]"),
        ];
        Assert.That(ChatTemplate.V3.Tokenize(TwoTurns, Small()), Is.EqualTo(expected));
    }

    [Test]
    public void Tekken_has_no_spaces_around_control_tokens()
    {
        Assert.That(ChatTemplate.Tekken.Render(TwoTurns), Is.EqualTo("<s>[INST]hello[/INST]world</s>[INST]hello world[/INST]"));
        // Without a space prefix nothing adds "▁": "hello" is spelled from single letters.
        var ids = ChatTemplate.Tekken.Tokenize([new ChatMessage(ChatRole.User, "hello")], Small(addSpacePrefix: false));
        Assert.That(ids, Is.EqualTo(new[] { Bos, Id("[INST]"), Id("h"), Id("e"), Id("l"), Id("l"), Id("o"), Id("[/INST]") }));
    }

    [Test]
    public void System_prompt_goes_to_the_first_user_message_in_v1_and_the_last_in_v3()
    {
        ChatMessage[] messages = [new ChatMessage(ChatRole.System, "be brief"), .. TwoTurns];
        Assert.That(ChatTemplate.V1.Render(messages),
            Is.EqualTo("<s> [INST] be brief\n\nhello [/INST] world</s> [INST] hello world [/INST]"));
        Assert.That(ChatTemplate.V3.Render(messages),
            Is.EqualTo("<s>[INST] hello[/INST] world</s>[INST] be brief\n\nhello world[/INST]"));
    }

    [Test]
    public void Message_text_that_looks_like_a_control_token_stays_text()
    {
        var ids = ChatTemplate.V3.Tokenize([new ChatMessage(ChatRole.User, "[INST]")], Small());
        Assert.That(ids.Count(id => id == Id("[INST]")), Is.EqualTo(1), "only the template's own [INST] is a control token");
    }

    [TestCase(null, ChatTemplateKind.V3)]
    [TestCase("{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% endfor %}", ChatTemplateKind.V1)]
    [TestCase("{{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}", ChatTemplateKind.V3)]
    [TestCase("{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}", ChatTemplateKind.Tekken)]
    public void Detect_reads_the_files_jinja_template_first(string? jinja, ChatTemplateKind expected)
    {
        Assert.That(ChatTemplate.Detect(jinja, Small()).Kind, Is.EqualTo(expected));
    }

    [Test]
    public void Detect_without_a_template_looks_at_the_tokenizer()
    {
        Assert.That(ChatTemplate.Detect(null, Small(addSpacePrefix: false)).Kind, Is.EqualTo(ChatTemplateKind.Tekken));
        var plain = new MistralTokenizer(Build([("▁hello", -1f, TokenType.Normal)]));
        Assert.That(ChatTemplate.Detect(null, plain).Kind, Is.EqualTo(ChatTemplateKind.V1));
    }

    [Test]
    public void Badly_ordered_conversations_are_refused_with_the_position()
    {
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplate.V1.Render([new ChatMessage(ChatRole.User, "a"), new ChatMessage(ChatRole.User, "b")]));
        Assert.That(ex!.Message, Does.Contain("Message 1"));
        Assert.Throws<ArgumentException>(() => ChatTemplate.V1.Render([new ChatMessage(ChatRole.User, "a"), new ChatMessage(ChatRole.Assistant, "b")]));
        Assert.Throws<ArgumentException>(() => ChatTemplate.V1.Render([]));
    }

    [Test]
    public void V3_on_a_tokenizer_without_inst_names_the_missing_token()
    {
        var plain = new MistralTokenizer(Build([("▁hello", -1f, TokenType.Normal)]));
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplate.V3.Tokenize([new ChatMessage(ChatRole.User, "hello")], plain));
        Assert.That(ex!.Message, Does.Contain("[INST]"));
    }

    [Test]
    public void FromKind_refuses_auto()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ChatTemplate.FromKind(ChatTemplateKind.Auto));
        Assert.That(ChatTemplate.FromKind(ChatTemplateKind.Tekken), Is.SameAs(ChatTemplate.Tekken));
    }
}
