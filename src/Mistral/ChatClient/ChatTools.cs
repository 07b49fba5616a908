using Microsoft.Extensions.AI;
using Mistral.Chat;

namespace Mistral;

/// <summary>
/// What a request's <see cref="ChatOptions.Tools"/> and <see cref="ChatOptions.ToolMode"/> mean for one generation:
/// the functions written into the prompt and how the <c>[TOOL_CALLS]</c> token is treated.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description>Auto (or unset): the tools are listed and the model decides, as Mistral's API does for <c>tool_choice</c> "auto".</description></item>
/// <item><description>None: the tools stay listed (the conversation may refer to them) but <c>[TOOL_CALLS]</c> can never be
/// generated, so the answer is text.</description></item>
/// <item><description>RequireAny: the answer starts with <c>[TOOL_CALLS]</c> whatever the logits say, so the model writes
/// calls (Mistral's "any"/"required").</description></item>
/// <item><description>Required with a function name: only that function is listed, and the answer starts with <c>[TOOL_CALLS]</c>.</description></item>
/// </list>
/// </remarks>
internal sealed record ChatTools(IReadOnlyList<AIFunctionDeclaration> Declarations, int ToolCallsId)
{
    public static ChatTools None(MistralModel model) => new([], model.ChatTemplate.ToolCallsTokenId(model.Tokenizer));

    /// <exception cref="NotSupportedException">A tool other than a function, or tools on a model whose format or vocabulary has no tool calling.</exception>
    /// <exception cref="ArgumentException">A required function name that is not among the tools.</exception>
    public static ChatTools From(ChatOptions? options, MistralModel model)
    {
        var none = None(model);
        if (options?.Tools is not { Count: > 0 } tools) return none;
        var declarations = new List<AIFunctionDeclaration>(tools.Count);
        foreach (var tool in tools)
        {
            declarations.Add(tool as AIFunctionDeclaration ?? throw new NotSupportedException(
                $"Tool '{tool?.Name}' is a {tool?.GetType().Name}; a local model can only be offered functions (AIFunction / AIFunctionDeclaration)."));
        }
        if (none.ToolCallsId < 0)
        {
            throw new NotSupportedException(
                $"This model cannot call tools: its {model.ChatTemplate.Kind} chat format or its vocabulary has no {ChatTemplate.ToolCallsToken} control token " +
                "(tool calling needs a V3 or later prompt format (Tekken included), as in Mistral 7B Instruct v0.3 or Nemo).");
        }
        if (options.ToolMode is RequiredChatToolMode { RequiredFunctionName: { } name })
        {
            var named = declarations.Where(d => d.Name == name).ToList();
            if (named.Count == 0)
                throw new ArgumentException($"ToolMode requires the function '{name}', which is not among ChatOptions.Tools ({string.Join(", ", declarations.Select(d => d.Name))}).", nameof(options));
            declarations = named;
        }
        return new ChatTools(declarations, none.ToolCallsId) { Mode = options.ToolMode };
    }

    /// <summary>The request's tool mode (null: auto).</summary>
    public ChatToolMode? Mode { get; init; }

    /// <summary>The generation options with the tool mode applied.</summary>
    public GenerationOptions Apply(GenerationOptions options) => Declarations.Count == 0 ? options : Mode switch
    {
        NoneChatToolMode => options with { SuppressedTokens = [.. options.SuppressedTokens, ToolCallsId] },
        RequiredChatToolMode => options with { ForcedFirstToken = ToolCallsId },
        _ => options,
    };
}
