namespace Mistral.Server.Sessions;

/// <summary>Every session is busy and the waiting queue is at its limit: the request is refused, not queued.</summary>
internal sealed class QueueFullException(int queueLimit, TimeSpan retryAfter)
    : Exception($"All sessions are busy and {queueLimit} requests are already waiting (the server's queue limit).")
{
    public int QueueLimit { get; } = queueLimit;

    /// <summary>A guess at when a place frees up: the Retry-After the client is sent.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}
