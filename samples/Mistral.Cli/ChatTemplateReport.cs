using Mistral.Chat;
using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Cli;

/// <summary>
/// Which chat format a model file gets and why, as <c>info</c> prints it and <c>generate --chat</c> warns about it:
/// matched from the file's <c>tokenizer.chat_template</c>, chosen from its tokenizer, or assumed (a base model).
/// </summary>
internal sealed record ChatTemplateReport(ChatTemplateKind Kind, ChatTemplateOrigin Origin, bool FileHasTemplate)
{
    private const string Key = "tokenizer.chat_template";

    public static ChatTemplateReport Read(GgufFile file, MistralTokenizer tokenizer)
    {
        // The library treats a non-string value as absent (llama.cpp would print it); so does this report.
        var jinja = file.TryGetValue(Key, out var value) && value.Type == GgufValueType.String ? value.AsString() : null;
        var template = ChatTemplate.Detect(jinja, tokenizer, out var origin);
        return new ChatTemplateReport(template.Kind, origin, jinja is not null);
    }

    /// <summary>One line: the format, then where it came from.</summary>
    public string Describe() => Origin switch
    {
        ChatTemplateOrigin.FileTemplate => $"{Kind} (matched from the file's {Key})",
        ChatTemplateOrigin.Tokenizer => $"{Kind} (from the tokenizer: [INST] is a control token; {(FileHasTemplate ? $"the file's {Key} is not a Mistral format" : $"no {Key} in the file")})",
        _ => $"none in file ({(FileHasTemplate ? $"its {Key} is not a Mistral format" : $"no {Key}")}, [INST] is not a control token: a base model?); " +
             $"chat assumes {ChatTemplateKind.V1} with a warning, generate without --chat uses the raw prompt",
    };

    /// <summary>The warning <c>generate --chat</c> prints when the format is only a guess.</summary>
    public string? Warning => Origin == ChatTemplateOrigin.Assumed
        ? $"warning: the model has no chat template ({(FileHasTemplate ? $"its {Key} is not a Mistral format" : $"no {Key}")}); --chat assumes the {Kind} format, which a base model was not trained on"
        : null;
}
