namespace Mistral.Chat;

/// <summary>Where <see cref="ChatTemplate.Detect(string?, Tokenization.MistralTokenizer, out ChatTemplateOrigin)"/> found a model's prompt format.</summary>
public enum ChatTemplateOrigin
{
    /// <summary>The file's <c>tokenizer.chat_template</c> matched V1, V3 or Tekken.</summary>
    FileTemplate,

    /// <summary>The file names no Mistral format, but its tokenizer has <c>[INST]</c> as a control token (V3 or Tekken).</summary>
    Tokenizer,

    /// <summary>
    /// Nothing in the file names a format, as in a base (not instruct) model: V1 is assumed. Chat on such a
    /// model logs a warning saying so; set <see cref="ModelOptions.ChatTemplate"/> to choose a format knowingly.
    /// </summary>
    Assumed,
}
