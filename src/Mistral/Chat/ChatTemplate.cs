using Microsoft.Extensions.AI;
using System.Text;
using Mistral.Tokenization;

namespace Mistral.Chat;

/// <summary>
/// Writes a conversation in a Mistral instruct format, as text (for display and logs) and as the token ids
/// the model was trained on. Control tokens (<c>&lt;s&gt;</c>, <c>[INST]</c>, …) become their ids; message
/// contents are always tokenized as plain text, so a user typing "[INST]" cannot forge a turn boundary.
/// </summary>
/// <remarks>
/// Facts (Mistral's cookbook "chat templates" notes and mistral-common): each message is tokenized on its
/// own, so a SentencePiece tokenizer puts its "▁" space prefix before each one; that space is what the
/// V1/V3 display strings show. V1 prepends the system prompt to the first user message; V2/V3/Tekken
/// prepend it to the last user message; V7 and V11 keep each system message where it is, between
/// <c>[SYSTEM_PROMPT]</c> and <c>[/SYSTEM_PROMPT]</c>. User and assistant messages must otherwise alternate,
/// starting with a user message.
/// </remarks>
public abstract class ChatTemplate
{
    /// <summary>The V1 format (<c>[INST]</c> as text).</summary>
    public static ChatTemplate V1 { get; } = new MistralV1ChatTemplate();

    /// <summary>The V2/V3 format (<c>[INST]</c> as control tokens, SentencePiece spacing).</summary>
    public static ChatTemplate V3 { get; } = new MistralV3ChatTemplate(tekken: false);

    /// <summary>The Tekken format (control tokens, no spaces).</summary>
    public static ChatTemplate Tekken { get; } = new MistralV3ChatTemplate(tekken: true);

    /// <summary>The V7 format with SentencePiece spacing (<c>[SYSTEM_PROMPT]</c>, <c>[TOOL_CONTENT]</c>).</summary>
    public static ChatTemplate V7 { get; } = new MistralV7ChatTemplate(tekken: false);

    /// <summary>The V7 format with the Tekken tokenizer (no spaces).</summary>
    public static ChatTemplate TekkenV7 { get; } = new MistralV7ChatTemplate(tekken: true);

    /// <summary>The V11 format (Tekken): V7 with calls written <c>[TOOL_CALLS]name[CALL_ID]id[ARGS]{…}</c>.</summary>
    public static ChatTemplate TekkenV11 { get; } = new MistralV11ChatTemplate();

    /// <summary>V1 chosen for a file that names no format (a base model): Chat warns when it uses it.</summary>
    internal static ChatTemplate AssumedV1 { get; } = new MistralV1ChatTemplate { IsAssumed = true };

    /// <summary>Which format this is.</summary>
    public abstract ChatTemplateKind Kind { get; }

    /// <summary>True for the V1 that <see cref="Detect(string?, MistralTokenizer)"/> falls back to when the file names no format.</summary>
    internal bool IsAssumed { get; init; }

    /// <summary>The template for a kind; <see cref="ChatTemplateKind.Auto"/> is not a template.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is Auto or unknown.</exception>
    public static ChatTemplate FromKind(ChatTemplateKind kind) => kind switch
    {
        ChatTemplateKind.V1 => V1,
        ChatTemplateKind.V3 => V3,
        ChatTemplateKind.Tekken => Tekken,
        ChatTemplateKind.V7 => V7,
        ChatTemplateKind.TekkenV7 => TekkenV7,
        ChatTemplateKind.TekkenV11 => TekkenV11,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Auto is resolved against a model (ChatTemplate.Detect); name a format."),
    };

    /// <summary>
    /// Chooses the format for a model from its file's <c>tokenizer.chat_template</c> (a Jinja template,
    /// recognised by distinctive substrings) or, without one, from its tokenizer.
    /// </summary>
    /// <remarks>
    /// The rule, in order. A template with <c>[INST]</c> is a Mistral one: with <c>[ARGS]</c> (the V11 call layout) it is
    /// <see cref="ChatTemplateKind.TekkenV11"/>; with <c>[SYSTEM_PROMPT]</c> or <c>[TOOL_CONTENT]</c> it is V7, with the
    /// tokenizer's spacing (<see cref="ChatTemplateKind.V7"/> for SentencePiece, else <see cref="ChatTemplateKind.TekkenV7"/>),
    /// or V11 when the vocabulary has V11's control tokens (a template that shows no call history); otherwise V1, V3 or
    /// Tekken by its spacing. Without such a template, a vocabulary with <c>[INST]</c> as a control token decides:
    /// <c>[ARGS]</c> and <c>[CALL_ID]</c> as control tokens (mistral-common added them in tokenizer v11) mean TekkenV11;
    /// a SentencePiece vocabulary with <c>[SYSTEM_PROMPT]</c> and <c>[TOOL_CONTENT]</c> means V7; else V3 or Tekken by the
    /// spacing. A Tekken vocabulary's <c>[SYSTEM_PROMPT]</c> proves nothing: every Tekken file has it, the V3 ones (Mistral
    /// Nemo) included (mistral-common's tekken.py, <c>DEPRECATED_SPECIAL_TOKENS</c>), so such a file without a template is
    /// taken as Tekken, the layout V3 models need. Files of tokenizer v13 and later (their templates write <c>[ARGS]</c>
    /// without <c>[CALL_ID]</c>) are taken as V11, the nearest layout this library writes.
    /// </remarks>
    /// <param name="jinjaTemplate">The file's <c>tokenizer.chat_template</c>, or null.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <returns>The template to use.</returns>
    public static ChatTemplate Detect(string? jinjaTemplate, MistralTokenizer tokenizer) => Detect(jinjaTemplate, tokenizer, out _);

    /// <summary>As <see cref="Detect(string?, MistralTokenizer)"/>, and says where the format came from (for tools that show it).</summary>
    /// <param name="jinjaTemplate">The file's <c>tokenizer.chat_template</c>, or null.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="origin">The file's template, the tokenizer, or nothing (V1 assumed: a base model).</param>
    /// <returns>The template to use.</returns>
    public static ChatTemplate Detect(string? jinjaTemplate, MistralTokenizer tokenizer, out ChatTemplateOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var v11Vocabulary = IsControlToken(tokenizer, ArgsToken) && IsControlToken(tokenizer, CallIdToken);
        if (!string.IsNullOrEmpty(jinjaTemplate) && jinjaTemplate.Contains("[INST]", StringComparison.Ordinal))
        {
            origin = ChatTemplateOrigin.FileTemplate;
            if (jinjaTemplate.Contains(ArgsToken, StringComparison.Ordinal)) return TekkenV11;
            if (jinjaTemplate.Contains("[SYSTEM_PROMPT]", StringComparison.Ordinal) || jinjaTemplate.Contains("[TOOL_CONTENT]", StringComparison.Ordinal))
                return v11Vocabulary ? TekkenV11 : tokenizer.AddSpacePrefix ? V7 : TekkenV7;
            // v0.1/v0.2 templates write "' [/INST]'" (a space before the closing tag); v0.3 templates write
            // "'[INST] ' + content + '[/INST]'" (a space after the opening tag only); Nemo's Tekken template
            // writes neither space: "'[INST]' + content + '[/INST]'".
            if (jinjaTemplate.Contains(" [/INST]", StringComparison.Ordinal)) return V1;
            if (jinjaTemplate.Contains("[INST] ", StringComparison.Ordinal)) return V3;
            return Tekken;
        }
        var instIsControl = IsControlToken(tokenizer, "[INST]");
        // Nothing names a format (a base model, or a non-Mistral template): V1 is the guess that needs no special
        // tokens, but it is only a guess, so it is marked and Chat says so rather than silently using it.
        origin = instIsControl ? ChatTemplateOrigin.Tokenizer : ChatTemplateOrigin.Assumed;
        if (!instIsControl) return AssumedV1;
        if (v11Vocabulary) return TekkenV11;
        if (tokenizer.AddSpacePrefix && IsControlToken(tokenizer, "[SYSTEM_PROMPT]") && IsControlToken(tokenizer, "[TOOL_CONTENT]")) return V7;
        // A SentencePiece vocabulary adds "▁" before each text; Tekken's byte-level BPE adds nothing.
        return tokenizer.AddSpacePrefix ? V3 : Tekken;
    }

    private static bool IsControlToken(MistralTokenizer tokenizer, string piece) =>
        tokenizer.TryGetTokenId(piece, out var id) && tokenizer.IsControl(id);

    /// <summary>The conversation as the model sees it, with control tokens written as text.</summary>
    /// <param name="messages">The conversation; it must end with a user message (the model answers it) or a tool result.</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="ArgumentException">The roles are out of order (see <see cref="Tokenize(IEnumerable{ChatMessage}, MistralTokenizer, IEnumerable{AIFunctionDeclaration}?)"/>).</exception>
    public string Render(IEnumerable<ChatMessage> messages) => Render(messages, null);

    /// <summary>The conversation with the functions the model may call, as the model sees it (control tokens as text).</summary>
    /// <param name="messages">The conversation; it must end with a user message or a tool result.</param>
    /// <param name="tools">The functions offered to the model (written before the last user message), or null for none.</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="ArgumentException">The roles are out of order.</exception>
    /// <exception cref="NotSupportedException">Tools were given to a format without tool calling (V1).</exception>
    public string Render(IEnumerable<ChatMessage> messages, IEnumerable<AIFunctionDeclaration>? tools)
    {
        var text = new StringBuilder();
        foreach (var segment in Segments(Validate(ChatTurn.From(messages)), ToolList(tools)))
            text.Append(segment.Display);
        return text.ToString();
    }

    /// <summary>The conversation as token ids, BOS first: the prompt to evaluate before the answer.</summary>
    /// <param name="messages">The conversation; it must end with a user message.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentException">The roles do not alternate, or the tokenizer lacks a control token the format needs.</exception>
    public int[] Tokenize(IEnumerable<ChatMessage> messages, MistralTokenizer tokenizer) => Tokenize(messages, tokenizer, null);

    /// <summary>
    /// The conversation and the functions the model may call, as token ids, BOS first. Besides system, user and assistant
    /// text, the history may hold an assistant message with <see cref="FunctionCallContent"/>s (written after
    /// <c>[TOOL_CALLS]</c>) followed by tool messages with the matching <see cref="FunctionResultContent"/>s (each in
    /// <c>[TOOL_RESULTS]</c>…<c>[/TOOL_RESULTS]</c>); the model then answers the results.
    /// </summary>
    /// <param name="messages">The conversation; it must end with a user message or a tool result.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="tools">The functions offered to the model, in <c>[AVAILABLE_TOOLS]</c> before the last user message; null for none.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentException">The roles are out of order, or the tokenizer lacks a control token the format needs (the message names it).</exception>
    /// <exception cref="NotSupportedException">Tools or tool messages in a format without tool calling (V1).</exception>
    public int[] Tokenize(IEnumerable<ChatMessage> messages, MistralTokenizer tokenizer, IEnumerable<AIFunctionDeclaration>? tools) =>
        Tokenize(ChatTurn.From(messages), tokenizer, static _ => null, ToolList(tools));

    /// <summary>As <see cref="Tokenize(IEnumerable{ChatMessage}, MistralTokenizer)"/>; <paramref name="knownAnswer"/>
    /// may give the exact ids an assistant message was generated as, so the history matches the KV cache.</summary>
    internal int[] Tokenize(IReadOnlyList<ChatTurn> messages, MistralTokenizer tokenizer, Func<string, IReadOnlyList<int>?> knownAnswer,
        IReadOnlyList<AIFunctionDeclaration>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int>();
        foreach (var segment in Segments(Validate(messages), tools ?? []))
        {
            if (segment.IsControl)
            {
                ids.Add(ControlId(tokenizer, segment.Text));
            }
            else if (segment.IsAnswer && knownAnswer(segment.Text) is { } exact)
            {
                ids.AddRange(exact);
            }
            else
            {
                // Tokenized alone, as mistral-common does: a SentencePiece vocabulary adds its "▁" prefix here.
                ids.AddRange(tokenizer.Encode(segment.Text, addBos: false, parseSpecial: false));
            }
        }
        return [.. ids];
    }

    /// <summary>The id of the control token that starts a model's tool calls, or -1 when the format or the vocabulary has none.</summary>
    internal int ToolCallsTokenId(MistralTokenizer tokenizer) =>
        SupportsTools && tokenizer.TryGetTokenId(ToolCallsToken, out var id) ? id : -1;

    /// <summary>The control token after which a model writes its calls.</summary>
    internal const string ToolCallsToken = "[TOOL_CALLS]";

    /// <summary>V11: the control token between a call's name (or id) and its arguments.</summary>
    internal const string ArgsToken = "[ARGS]";

    /// <summary>V11: the control token between a call's name and its id.</summary>
    internal const string CallIdToken = "[CALL_ID]";

    /// <summary>Whether this format has tool calling (V3 and later do, V1 does not).</summary>
    internal abstract bool SupportsTools { get; }

    /// <summary>
    /// How the model writes its calls after <c>[TOOL_CALLS]</c>: false for a JSON list (V3, V7), true for
    /// <c>name[CALL_ID]id[ARGS]{…}</c> per call, each after its own <c>[TOOL_CALLS]</c> (V11).
    /// </summary>
    internal virtual bool WritesNamedCalls => false;

    /// <summary>Whether system messages stay where they are as turns of their own (V7 and later) rather than being folded into a user message.</summary>
    private protected virtual bool SystemMessagesInPlace => false;

    private static List<AIFunctionDeclaration> ToolList(IEnumerable<AIFunctionDeclaration>? tools)
    {
        var list = new List<AIFunctionDeclaration>();
        if (tools is null) return list;
        foreach (var tool in tools)
        {
            if (tool is null) throw new ArgumentException($"Tool {list.Count} is null.", nameof(tools));
            if (string.IsNullOrEmpty(tool.Name)) throw new ArgumentException($"Tool {list.Count} has no name.", nameof(tools));
            list.Add(tool);
        }
        return list;
    }

    /// <summary>The pieces of the prompt, in order.</summary>
    private protected abstract IEnumerable<Segment> Segments(IReadOnlyList<ChatTurn> turns, IReadOnlyList<AIFunctionDeclaration> tools);

    /// <summary>Where the system prompt goes: the first user message (V1) or the last (V2 and later).</summary>
    private protected abstract bool SystemGoesToFirstUser { get; }

    private int ControlId(MistralTokenizer tokenizer, string piece)
    {
        if (piece == "<s>" && tokenizer.BosId >= 0) return tokenizer.BosId;
        if (piece == "</s>" && tokenizer.EosId >= 0) return tokenizer.EosId;
        if (tokenizer.TryGetTokenId(piece, out var id)) return id;
        throw new ArgumentException(
            $"The {Kind} chat template needs the control token '{piece}', which this model's tokenizer does not have. " +
            "Choose another template (ModelOptions.ChatTemplate).", nameof(tokenizer));
    }

    /// <summary>
    /// Checks the order of the roles and folds system messages into the user message the format puts them in. After any
    /// system messages: a user message first; an assistant message answers a user message or tool results; tool results
    /// follow an assistant message that made calls (or another result); a user message may follow an answer or results.
    /// The model answers a conversation that ends with a user message or a tool result.
    /// </summary>
    private List<ChatTurn> Validate(IReadOnlyList<ChatTurn> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var system = new List<string>();
        var turns = new List<ChatTurn>();
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw new ArgumentException($"Message {i} is null.", nameof(messages));
            ArgumentNullException.ThrowIfNull(message.Content, $"{nameof(messages)}[{i}].Content");
            if (message.Role == TurnRole.System)
            {
                if (SystemMessagesInPlace) turns.Add(message);
                else system.Add(message.Content);
                continue;
            }
            if (!SupportsTools && (message.Role == TurnRole.Tool || message.ToolCalls.Count > 0))
                throw new NotSupportedException($"Message {i} holds a tool call or result; the {Kind} format has no tool calling (V3 and later have).");
            // A system message kept in place (V7) does not take part in the alternation: the order is that of the others.
            var last = turns.FindLast(t => t.Role != TurnRole.System);
            var previous = last?.Role;
            var callsBefore = last is { ToolCalls.Count: > 0 };
            var allowed = message.Role switch
            {
                TurnRole.User => previous is null or TurnRole.Assistant or TurnRole.Tool && !callsBefore,
                TurnRole.Assistant => previous is TurnRole.User or TurnRole.Tool,
                _ => previous is TurnRole.Tool || callsBefore,
            };
            if (!allowed)
            {
                throw new ArgumentException(
                    $"Message {i} is a {message.Role} message after {(previous is null ? "the start" : callsBefore ? "an assistant message with tool calls" : $"a {previous} message")}: " +
                    "after any system messages, a conversation starts with a user message and alternates user and assistant messages; " +
                    "an assistant message with tool calls is followed by the tool results.", nameof(messages));
            }
            turns.Add(message);
        }
        if (turns.Count == 0 || turns[^1].Role is not (TurnRole.User or TurnRole.Tool))
            throw new ArgumentException("The conversation must end with a user message (or a tool result) for the model to answer.", nameof(messages));
        if (system.Count > 0)
        {
            var target = SystemGoesToFirstUser ? 0 : turns.FindLastIndex(t => t.Role == TurnRole.User);
            turns[target] = turns[target] with { Content = string.Join("\n\n", system) + "\n\n" + turns[target].Content };
        }
        return turns;
    }

    /// <summary>A control token, or a text tokenized alone; <see cref="Display"/> is how it reads in <see cref="Render(IEnumerable{ChatMessage})"/>.</summary>
    private protected readonly record struct Segment(bool IsControl, string Text, string Display, bool IsAnswer = false)
    {
        public static Segment Control(string piece) => new(true, piece, piece);

        public static Segment Plain(string text, string display) => new(false, text, display);

        public static Segment Answer(string text, string display) => new(false, text, display, IsAnswer: true);
    }
}
