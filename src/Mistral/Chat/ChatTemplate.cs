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
/// prepend it to the last user message. System, user and assistant messages must otherwise alternate
/// user/assistant, starting with a user message.
/// </remarks>
public abstract class ChatTemplate
{
    /// <summary>The V1 format (<c>[INST]</c> as text).</summary>
    public static ChatTemplate V1 { get; } = new MistralV1ChatTemplate();

    /// <summary>The V2/V3 format (<c>[INST]</c> as control tokens, SentencePiece spacing).</summary>
    public static ChatTemplate V3 { get; } = new MistralV3ChatTemplate(tekken: false);

    /// <summary>The Tekken format (control tokens, no spaces).</summary>
    public static ChatTemplate Tekken { get; } = new MistralV3ChatTemplate(tekken: true);

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
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Auto is resolved against a model (ChatTemplate.Detect); name a format."),
    };

    /// <summary>
    /// Chooses the format for a model from its file's <c>tokenizer.chat_template</c> (a Jinja template,
    /// recognised by distinctive substrings) or, without one, from its tokenizer.
    /// </summary>
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
        if (!string.IsNullOrEmpty(jinjaTemplate) && jinjaTemplate.Contains("[INST]", StringComparison.Ordinal))
        {
            origin = ChatTemplateOrigin.FileTemplate;
            // v0.1/v0.2 templates write "' [/INST]'" (a space before the closing tag); v0.3 templates write
            // "'[INST] ' + content + '[/INST]'" (a space after the opening tag only); Nemo's Tekken template
            // writes neither space: "'[INST]' + content + '[/INST]'".
            if (jinjaTemplate.Contains(" [/INST]", StringComparison.Ordinal)) return V1;
            if (jinjaTemplate.Contains("[INST] ", StringComparison.Ordinal)) return V3;
            return Tekken;
        }
        var instIsControl = tokenizer.TryGetTokenId("[INST]", out var inst) && tokenizer.IsControl(inst);
        // Nothing names a format (a base model, or a non-Mistral template): V1 is the guess that needs no special
        // tokens, but it is only a guess, so it is marked and Chat says so rather than silently using it.
        origin = instIsControl ? ChatTemplateOrigin.Tokenizer : ChatTemplateOrigin.Assumed;
        if (!instIsControl) return AssumedV1;
        // A SentencePiece vocabulary adds "▁" before each text; Tekken's byte-level BPE adds nothing.
        return tokenizer.AddSpacePrefix ? V3 : Tekken;
    }

    /// <summary>The conversation as the model sees it, with control tokens written as text.</summary>
    /// <param name="messages">The conversation; it must end with a user message (the model answers it).</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="ArgumentException">The roles do not alternate user/assistant, or the last message is not a user message.</exception>
    public string Render(IEnumerable<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var segment in Segments(Validate(ChatTurn.From(messages))))
            text.Append(segment.Display);
        return text.ToString();
    }

    /// <summary>The conversation as token ids, BOS first: the prompt to evaluate before the answer.</summary>
    /// <param name="messages">The conversation; it must end with a user message.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentException">The roles do not alternate, or the tokenizer lacks a control token the format needs.</exception>
    public int[] Tokenize(IEnumerable<ChatMessage> messages, MistralTokenizer tokenizer) =>
        Tokenize(ChatTurn.From(messages), tokenizer, static _ => null);

    /// <summary>As <see cref="Tokenize(IEnumerable{ChatMessage}, MistralTokenizer)"/>; <paramref name="knownAnswer"/>
    /// may give the exact ids an assistant message was generated as, so the history matches the KV cache.</summary>
    internal int[] Tokenize(IReadOnlyList<ChatTurn> messages, MistralTokenizer tokenizer, Func<string, IReadOnlyList<int>?> knownAnswer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int>();
        foreach (var segment in Segments(Validate(messages)))
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

    /// <summary>The pieces of the prompt, in order.</summary>
    private protected abstract IEnumerable<Segment> Segments(IReadOnlyList<ChatTurn> turns);

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

    /// <summary>Checks the roles and folds system messages into the user message the format puts them in.</summary>
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
                system.Add(message.Content);
                continue;
            }
            var expected = turns.Count % 2 == 0 ? TurnRole.User : TurnRole.Assistant;
            if (message.Role != expected)
            {
                throw new ArgumentException(
                    $"Message {i} is a {message.Role} message where a {expected} message was expected: after any system " +
                    "messages, a conversation alternates user and assistant messages, starting with a user message.", nameof(messages));
            }
            turns.Add(message);
        }
        if (turns.Count == 0 || turns[^1].Role != TurnRole.User)
            throw new ArgumentException("The conversation must end with a user message for the model to answer.", nameof(messages));
        if (system.Count > 0)
        {
            var target = SystemGoesToFirstUser ? 0 : turns.Count - 1;
            turns[target] = turns[target] with { Content = string.Join("\n\n", system) + "\n\n" + turns[target].Content };
        }
        return turns;
    }

    /// <summary>A control token, or a text tokenized alone; <see cref="Display"/> is how it reads in <see cref="Render"/>.</summary>
    private protected readonly record struct Segment(bool IsControl, string Text, string Display, bool IsAnswer = false)
    {
        public static Segment Control(string piece) => new(true, piece, piece);

        public static Segment Plain(string text, string display) => new(false, text, display);

        public static Segment Answer(string text, string display) => new(false, text, display, IsAnswer: true);
    }
}
