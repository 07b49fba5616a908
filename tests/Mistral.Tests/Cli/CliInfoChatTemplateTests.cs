using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>`mistral info --model` names the chat format a model gets and where it came from, and says so when the file has none.</summary>
[TestFixture]
public class CliInfoChatTemplateTests : SmallModelFixture
{
    private const string Key = "tokenizer.chat_template";

    // The distinctive part of Mistral 7B Instruct v0.1's template: "[INST]" as text, a space before "[/INST]".
    private const string V1Jinja = "{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}";

    [Test]
    public void A_base_model_file_shows_none_in_file_and_what_chat_would_assume()
    {
        var result = CliProcess.Run("info", "--model", Files.Path);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(Lines(result.StdOut), Does.Contain(
            "chat:         none in file (no tokenizer.chat_template, [INST] is not a control token: a base model?); " +
            "chat assumes V1 with a warning, generate without --chat uses the raw prompt"));
    }

    [Test]
    public void A_mistral_template_in_the_file_is_matched_and_named()
    {
        using var dir = new TempDir();
        var path = dir.File("v1.gguf");
        GgufRewrite.Copy(Files.Path, path, addMetadata: new Dictionary<string, GgufValue> { [Key] = GgufValue.From(V1Jinja) });
        var result = CliProcess.Run("info", "--model", path);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(Lines(result.StdOut), Does.Contain("chat:         V1 (matched from the file's tokenizer.chat_template)"));
    }

    [Test]
    public void A_template_of_another_family_is_not_taken_for_a_mistral_one()
    {
        using var dir = new TempDir();
        var path = dir.File("chatml.gguf");
        const string chatMl = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' }}{% endfor %}";
        GgufRewrite.Copy(Files.Path, path, addMetadata: new Dictionary<string, GgufValue> { [Key] = GgufValue.From(chatMl) });
        var result = CliProcess.Run("info", "--model", path);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(Lines(result.StdOut), Does.Contain(
            "chat:         none in file (its tokenizer.chat_template is not a Mistral format, [INST] is not a control token: a base model?); " +
            "chat assumes V1 with a warning, generate without --chat uses the raw prompt"));
    }

    private static List<string> Lines(string text) => [.. text.Split('\n').Select(l => l.TrimEnd('\r'))];
}
