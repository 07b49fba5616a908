namespace Mistral.Server.Sessions;

/// <summary>
/// One session of the served model (its own KV cache) and what the pool knows about its cache. Only the request
/// holding its <see cref="SessionLease"/> touches <see cref="Client"/>.
/// </summary>
internal sealed class SessionSlot(int index, MistralChatClient client) : IDisposable
{
    /// <summary>Which session this is (0-based), for logs and tests.</summary>
    public int Index { get; } = index;

    /// <summary>
    /// The library's chat client over this slot's session: it renders the conversation, reuses the cached prefix,
    /// streams, honours cancellation and reports finish reason and usage.
    /// </summary>
    public MistralChatClient Client { get; } = client;

    /// <summary>
    /// The rendered prompt of the last request this session ran: its KV cache starts with these ids (then the
    /// answer), so a follow-up turn whose prompt shares them evaluates only its new tokens here.
    /// </summary>
    public int[] CachedPrompt { get; set; } = [];

    /// <summary>When it was last handed out (a pool counter): ties go to the least recently used, so a fresh
    /// request displaces the oldest conversation rather than the one just served.</summary>
    public long LastUsed { get; set; }

    public void Dispose() => Client.Dispose();
}
