namespace Mistral.Server;

/// <summary>
/// What the server loads and the limits it enforces. Immutable like the library's options: build with an object
/// initializer, derive a variant with <c>with</c>.
/// </summary>
public sealed record MistralServerOptions
{
    /// <summary>The GGUF file to serve (required unless a loaded <see cref="MistralModel"/> is passed to AddMistralServer).</summary>
    public string? ModelPath { get; init; }

    /// <summary>The id <c>GET /v1/models</c> lists and responses name; null = the file name without its extension.</summary>
    public string? ModelId { get; init; }

    /// <summary>How the model is loaded (threads per session, context length, backend).</summary>
    public ModelOptions Model { get; init; } = new();

    /// <summary>The address the standalone host listens on: loopback unless the user asks otherwise, so nothing is exposed by default.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The port the standalone host listens on; 0 picks a free one (tests).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every <c>/v1</c> request must send <c>Authorization: Bearer</c> with this key.</summary>
    public string? ApiKey { get; init; }

    /// <summary>
    /// Sessions (KV caches) over the one loaded model: how many requests generate at once. Each costs its KV cache
    /// in memory; the weights are shared.
    /// </summary>
    public int Sessions { get; init; } = 1;

    /// <summary>Requests that may wait for a session; one more is refused with 429 and <c>Retry-After</c>.</summary>
    public int QueueLimit { get; init; } = 16;

    /// <summary>The largest request body accepted, in bytes (413 beyond it).</summary>
    public long MaxRequestBodyBytes { get; init; } = 1 << 20;

    /// <summary>The largest <c>max_tokens</c> a request may ask for (400 beyond it); also the default when a request sets none.</summary>
    public int MaxTokensLimit { get; init; } = 2048;

    /// <summary>
    /// Sampling defaults under the request's own values. Mistral's API samples with temperature and top-p only, so
    /// top-k and min-p are off here, unlike <see cref="GenerationOptions"/>'s defaults.
    /// </summary>
    public GenerationOptions Generation { get; init; } = new() { Temperature = 0.7f, TopP = 1f, TopK = 0, MinP = 0f };

    /// <summary>Checks the values a mistake would make meaningless.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count or limit is out of range, naming it.</exception>
    public void Validate()
    {
        if (Sessions < 1) throw new ArgumentOutOfRangeException(nameof(Sessions), Sessions, "Sessions must be at least 1.");
        if (QueueLimit < 0) throw new ArgumentOutOfRangeException(nameof(QueueLimit), QueueLimit, "QueueLimit must be 0 (no waiting) or positive.");
        if (MaxRequestBodyBytes < 1) throw new ArgumentOutOfRangeException(nameof(MaxRequestBodyBytes), MaxRequestBodyBytes, "MaxRequestBodyBytes must be positive.");
        if (MaxTokensLimit < 1) throw new ArgumentOutOfRangeException(nameof(MaxTokensLimit), MaxTokensLimit, "MaxTokensLimit must be positive.");
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "Port must be 0..65535.");
        if (ApiKey is { Length: 0 }) throw new ArgumentOutOfRangeException(nameof(ApiKey), "ApiKey must not be empty; leave it null for no key.");
    }
}
