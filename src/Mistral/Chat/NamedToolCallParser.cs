using System.Text;
using System.Text.Json;
using Mistral.Tokenization;

namespace Mistral.Chat;

/// <summary>The V11 control tokens that structure a model's calls.</summary>
internal enum ToolCallMarker
{
    /// <summary><c>[TOOL_CALLS]</c>: a call starts; its name follows.</summary>
    ToolCalls,

    /// <summary><c>[CALL_ID]</c>: the call's id follows.</summary>
    CallId,

    /// <summary><c>[ARGS]</c>: the call's arguments (JSON) follow.</summary>
    Args,
}

/// <summary>A marker the model generated and the text it wrote after it, up to the next marker or the end.</summary>
internal readonly record struct ToolCallPiece(ToolCallMarker Marker, string Text)
{
    public string MarkerText => Marker switch
    {
        ToolCallMarker.ToolCalls => ChatTemplate.ToolCallsToken,
        ToolCallMarker.CallId => ChatTemplate.CallIdToken,
        _ => ChatTemplate.ArgsToken,
    };
}

/// <summary>
/// Reads the calls a V11 model generates: <c>[TOOL_CALLS]name[ARGS]{json}</c>, optionally with <c>[CALL_ID]id</c> before
/// <c>[ARGS]</c>, one such group per call (the layout <see cref="MistralV11ChatTemplate"/> writes). The markers are control
/// tokens, so the split is made on token ids (<see cref="Pieces"/>), never on text: arguments holding the text "[ARGS]"
/// cannot be mistaken for a marker. Like <see cref="ToolCallParser"/>, it never throws on what the model wrote: a call
/// without a name or <c>[ARGS]</c>, or with arguments that are not a JSON object, is reported through
/// <see cref="ToolCallParse.Error"/>; a call without an id gets one, as Mistral's API makes them.
/// </summary>
internal static class NamedToolCallParser
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64 };

    /// <summary>
    /// Splits generated ids at the markers, from the first <c>[TOOL_CALLS]</c> on (null when there is none). Ids of a
    /// marker the vocabulary lacks are -1 and match nothing.
    /// </summary>
    public static List<ToolCallPiece>? Pieces(IReadOnlyList<int> tokens, int toolCallsId, int callIdId, int argsId, MistralTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(tokenizer);
        List<ToolCallPiece>? pieces = null;
        var marker = ToolCallMarker.ToolCalls;
        var text = new List<int>();
        foreach (var token in tokens)
        {
            ToolCallMarker? next = token == toolCallsId && toolCallsId >= 0 ? ToolCallMarker.ToolCalls
                : token == callIdId && callIdId >= 0 ? ToolCallMarker.CallId
                : token == argsId && argsId >= 0 ? ToolCallMarker.Args
                : null;
            if (pieces is null)
            {
                // Before the first [TOOL_CALLS] is answer text, handled by the caller.
                if (next == ToolCallMarker.ToolCalls) pieces = [];
                continue;
            }
            if (next is { } m)
            {
                pieces.Add(new ToolCallPiece(marker, tokenizer.Decode([.. text], startsText: false)));
                marker = m;
                text.Clear();
            }
            else
            {
                text.Add(token);
            }
        }
        pieces?.Add(new ToolCallPiece(marker, tokenizer.Decode([.. text], startsText: false)));
        return pieces;
    }

    /// <summary>The pieces as the model wrote them, markers as text, without the first <c>[TOOL_CALLS]</c>.</summary>
    public static string Text(IReadOnlyList<ToolCallPiece> pieces)
    {
        var text = new StringBuilder();
        for (var i = 0; i < pieces.Count; i++)
        {
            if (i > 0) text.Append(pieces[i].MarkerText);
            text.Append(pieces[i].Text);
        }
        return text.ToString();
    }

    /// <summary>Reads the calls from the pieces (the first is the name after the first <c>[TOOL_CALLS]</c>).</summary>
    public static ToolCallParse Parse(IReadOnlyList<ToolCallPiece> pieces)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        if (pieces.Count == 0 || pieces[0].Marker != ToolCallMarker.ToolCalls)
            return Fail("the calls do not start with [TOOL_CALLS]");
        var calls = new List<ChatToolCall>();
        var start = 0;
        while (start < pieces.Count)
        {
            var end = start + 1;
            while (end < pieces.Count && pieces[end].Marker != ToolCallMarker.ToolCalls) end++;
            var (call, error) = One(pieces, start, end, calls.Count);
            if (error is not null) return Fail(error);
            calls.Add(call!);
            start = end;
        }
        return new ToolCallParse(calls, null);
    }

    /// <summary>One call: pieces[start] is its [TOOL_CALLS] and name; then [CALL_ID] at most once, then exactly one [ARGS], last.</summary>
    private static (ChatToolCall? Call, string? Error) One(IReadOnlyList<ToolCallPiece> pieces, int start, int end, int index)
    {
        var name = pieces[start].Text.Trim();
        if (name.Length == 0) return (null, $"call {index} has no name after [TOOL_CALLS]");
        string? id = null;
        string? arguments = null;
        for (var i = start + 1; i < end; i++)
        {
            var piece = pieces[i];
            if (arguments is not null) return (null, $"call {index} (\"{name}\") has {piece.MarkerText} after its [ARGS]");
            if (piece.Marker == ToolCallMarker.CallId)
            {
                if (id is not null) return (null, $"call {index} (\"{name}\") has more than one [CALL_ID]");
                id = piece.Text.Trim();
            }
            else
            {
                arguments = piece.Text;
            }
        }
        if (arguments is null) return (null, $"call {index} (\"{name}\") has no [ARGS]");
        var json = Arguments(arguments, index, name, out var error);
        if (error is not null) return (null, error);
        return (new ChatToolCall(id is { Length: > 0 } and not "null" ? id : ChatToolCall.NewId(), name, json), null);
    }

    /// <summary>The arguments as a JSON object; a JSON string holding an object is accepted (as the V3 parser does).</summary>
    private static JsonElement Arguments(string text, int index, string name, out string? error)
    {
        error = null;
        JsonElement value;
        try
        {
            using var document = JsonDocument.Parse(text.Trim(), Options);
            value = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            error = $"call {index} (\"{name}\"): the arguments after [ARGS] are not valid JSON ({ex.Message})";
            return default;
        }
        if (value.ValueKind == JsonValueKind.String && ToolCallJson.TryParse(value.GetString()!) is { } inner) value = inner;
        if (value.ValueKind != JsonValueKind.Object) error = $"call {index} (\"{name}\") has arguments that are not a JSON object";
        return value;
    }

    private static ToolCallParse Fail(string error) => new([], error);
}
