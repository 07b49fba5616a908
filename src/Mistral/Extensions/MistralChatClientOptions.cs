namespace Mistral.Extensions;

/// <summary>How <see cref="MistralChatClient"/> loads its model and generates when a request leaves something unset.</summary>
public sealed class MistralChatClientOptions
{
    /// <summary>How the model is loaded (threads, context, backend, template, logger, progress).</summary>
    public ModelOptions Model { get; set; } = new();

    /// <summary>Sampling and stopping used where a request's <c>ChatOptions</c> says nothing.</summary>
    public GenerationOptions Generation { get; set; } = new();

    /// <summary>The client's session (its KV cache); unset values come from <see cref="Model"/>.</summary>
    public SessionOptions? Session { get; set; }
}
