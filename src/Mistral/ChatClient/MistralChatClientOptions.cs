namespace Mistral;

/// <summary>
/// How <see cref="MistralChatClient"/> loads its model and generates when a request leaves something unset. Like the
/// other options types it is an immutable record: build it with an initializer, derive a variant with <c>with</c>.
/// </summary>
public sealed record MistralChatClientOptions
{
    /// <summary>
    /// How the model is loaded (backend, logger, progress, template) and the defaults of the client's session
    /// (threads, context length, batch size); used only by <see cref="MistralChatClient.Load"/> and dependency
    /// injection, which load the model themselves.
    /// </summary>
    public ModelOptions Model { get; init; } = new();

    /// <summary>Sampling and stopping used where a request's <c>ChatOptions</c> says nothing.</summary>
    public GenerationOptions Generation { get; init; } = new();

    /// <summary>
    /// The client's session (its KV cache); what it leaves null comes from the model's <see cref="ModelOptions"/>, what
    /// it sets wins over them.
    /// </summary>
    public SessionOptions? Session { get; init; }
}
