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

    /// <summary>
    /// Tokenizer V7 with SentencePiece (Mistral Large 2411): each system message stays where it is, between the control
    /// tokens <c>[SYSTEM_PROMPT]</c> and <c>[/SYSTEM_PROMPT]</c>; a tool result is <c>[TOOL_RESULTS]</c> call id
    /// <c>[TOOL_CONTENT]</c> result text <c>[/TOOL_RESULTS]</c>; an answer may hold text and calls.
    /// <c>&lt;s&gt;[SYSTEM_PROMPT] be brief[/SYSTEM_PROMPT][INST] user[/INST] answer&lt;/s&gt;</c>.
    /// </summary>
    V7,

    /// <summary>V7 with the Tekken tokenizer (Mistral Small 3 and 3.1): as <see cref="V7"/>, no spaces.</summary>
    TekkenV7,

    /// <summary>
    /// Tokenizer V11, Tekken (Mistral Small 3.2): as <see cref="TekkenV7"/>, but each call is written
    /// <c>[TOOL_CALLS]name[CALL_ID]id[ARGS]{arguments}</c> (the id part only when there is one), one after the other,
    /// instead of a JSON list, and the model writes its calls the same way.
    /// </summary>
    TekkenV11,
}
