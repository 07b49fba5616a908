namespace Mistral.Chat;

/// <summary>The Mistral instruct prompt formats this library can write (see <see cref="ChatTemplate"/>).</summary>
public enum ChatTemplateKind
{
    /// <summary>Choose from the model file: its <c>tokenizer.chat_template</c>, else its tokenizer.</summary>
    Auto,

    /// <summary>
    /// Tokenizer V1 (Mistral 7B Instruct v0.1/v0.2, Mixtral 8x7B Instruct): <c>[INST]</c> is ordinary text.
    /// <c>&lt;s&gt; [INST] user [/INST] answer&lt;/s&gt; [INST] next [/INST]</c>.
    /// </summary>
    V1,

    /// <summary>
    /// Tokenizers V2/V3 (Mistral 7B v0.3, Mixtral 8x22B, Codestral): <c>[INST]</c>/<c>[/INST]</c> are control tokens,
    /// SentencePiece adds the space before each text. <c>&lt;s&gt;[INST] user[/INST] answer&lt;/s&gt;[INST] next[/INST]</c>.
    /// </summary>
    V3,

    /// <summary>
    /// V3 with the Tekken tokenizer (Mistral Nemo, Ministral): control tokens and no spaces.
    /// <c>&lt;s&gt;[INST]user[/INST]answer&lt;/s&gt;[INST]next[/INST]</c>.
    /// </summary>
    Tekken,
}
