namespace Mistral.Chat;

/// <summary>Where <see cref="ChatTemplate.Detect(string?, Tokenization.MistralTokenizer, out ChatTemplateOrigin)"/> found a model's prompt format.</summary>
public enum ChatTemplateOrigin
{
    /// <summary>
    /// The file's <c>tokenizer.chat_template</c> matched a Mistral format (V1, V3, Tekken, V7, TekkenV7, TekkenV11; the rule is
    /// on <see cref="ChatTemplate.Detect(string?, Tokenization.MistralTokenizer, out ChatTemplateOrigin)"/>). A V7-style
    /// template on a vocabulary with V11's <c>[ARGS]</c>/<c>[CALL_ID]</c> control tokens gives TekkenV11.
    /// </summary>
    FileTemplate,

    /// <summary>
    /// The file names no Mistral format, but its tokenizer has <c>[INST]</c> as a control token: TekkenV11 when it also has
    /// <c>[ARGS]</c> and <c>[CALL_ID]</c>, V7 for a SentencePiece vocabulary with <c>[SYSTEM_PROMPT]</c> and
    /// <c>[TOOL_CONTENT]</c>, else V3 or Tekken.
    /// </summary>
    Tokenizer,

    /// <summary>
    /// Nothing in the file names a format, as in a base (not instruct) model: V1 is assumed. Chat on such a
    /// model logs a warning saying so; set <see cref="ModelOptions.ChatTemplate"/> to choose a format knowingly.
    /// </summary>
    Assumed,
}
