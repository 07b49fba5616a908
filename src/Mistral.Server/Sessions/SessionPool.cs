namespace Mistral.Server.Sessions;

/// <summary>
/// N sessions over one loaded model (the weights are shared; each session has its own KV cache) and a bounded
/// first-come-first-served queue of requests waiting for one. A session is held by one request at a time.
/// </summary>
/// <remarks>
/// A free session is chosen by the longest common prefix between its cached prompt and the new one, so the next
/// turn of a conversation lands where its earlier turns are cached and only the new tokens are evaluated. A waiting
/// request takes whichever session frees first: fairness comes before cache affinity. Each session decodes its own
/// sequence; several sequences in one forward pass (batched decode) is not done here.
/// </remarks>
internal sealed class SessionPool : IDisposable
{
    private readonly object _lock = new();
    private readonly SessionSlot[] _slots;
    private readonly List<SessionSlot> _free;
    private readonly LinkedList<TaskCompletionSource<SessionSlot>> _waiting = new();
    private readonly int _queueLimit;
    private long _clock;
    private double _averageHoldSeconds = 1; // a first guess for Retry-After until requests have been timed
    private bool _disposed;

    public SessionPool(IReadOnlyList<SessionSlot> slots, int queueLimit)
    {
        ArgumentOutOfRangeException.ThrowIfZero(slots.Count);
        ArgumentOutOfRangeException.ThrowIfNegative(queueLimit);
        _slots = [.. slots];
        _free = [.. slots];
        _queueLimit = queueLimit;
    }

    public int Count => _slots.Length;

    public int QueueLimit => _queueLimit;

    /// <summary>Sessions now generating and requests now waiting (for /health).</summary>
    public (int Busy, int Waiting) Load
    {
        get
        {
            lock (_lock) return (_slots.Length - _free.Count, _waiting.Count);
        }
    }

    /// <summary>
    /// Takes a free session, preferring the one whose cache shares the longest prefix with <paramref name="prompt"/>,
    /// or waits in line for one.
    /// </summary>
    /// <exception cref="QueueFullException">Every session is busy and the queue is full.</exception>
    /// <exception cref="OperationCanceledException">The caller gave up while waiting (it leaves the queue).</exception>
    public async ValueTask<SessionLease> AcquireAsync(int[] prompt, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource<SessionSlot> waiter;
        LinkedListNode<TaskCompletionSource<SessionSlot>> node;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Only when nobody is waiting: a newcomer must not overtake the queue.
            if (_waiting.Count == 0 && _free.Count > 0) return Lease(TakeBest(prompt), prompt);
            if (_waiting.Count >= _queueLimit) throw new QueueFullException(_queueLimit, EstimateWait(_waiting.Count + 1));
            waiter = new TaskCompletionSource<SessionSlot>(TaskCreationOptions.RunContinuationsAsynchronously);
            node = _waiting.AddLast(waiter);
        }

        await using (cancellationToken.UnsafeRegister(_ => Abandon(node), null))
        {
            SessionSlot slot;
            try
            {
                slot = await waiter.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            lock (_lock) return Lease(slot, prompt);
        }
    }

    /// <summary>Gives a session back: to the first waiter if there is one, else to the free list.</summary>
    internal void Release(SessionSlot slot, TimeSpan held)
    {
        lock (_lock)
        {
            // A moving average of how long a request holds a session: what Retry-After is estimated from.
            _averageHoldSeconds = 0.8 * _averageHoldSeconds + 0.2 * held.TotalSeconds;
            while (_waiting.First is { } first)
            {
                _waiting.RemoveFirst();
                if (first.Value.TrySetResult(slot)) return;
            }
            _free.Add(slot);
        }
    }

    private void Abandon(LinkedListNode<TaskCompletionSource<SessionSlot>> node)
    {
        lock (_lock)
        {
            // Still in line: leave it. Already handed a session: the caller owns it and gives it back.
            if (node.List is null) return;
            _waiting.Remove(node);
            node.Value.TrySetCanceled();
        }
    }

    private SessionSlot TakeBest(int[] prompt)
    {
        var best = 0;
        var bestShared = -1;
        for (var i = 0; i < _free.Count; i++)
        {
            var shared = prompt.AsSpan().CommonPrefixLength(_free[i].CachedPrompt);
            if (shared > bestShared || (shared == bestShared && _free[i].LastUsed < _free[best].LastUsed))
            {
                best = i;
                bestShared = shared;
            }
        }
        var slot = _free[best];
        _free.RemoveAt(best);
        return slot;
    }

    private SessionLease Lease(SessionSlot slot, int[] prompt)
    {
        // The session's cache will start with this prompt once the request runs (the chat call keeps the common
        // prefix and evaluates the rest), which is what the next routing decision compares with.
        slot.CachedPrompt = prompt;
        slot.LastUsed = ++_clock;
        return new SessionLease(this, slot);
    }

    /// <summary>How long until <paramref name="ahead"/> requests have been served by all sessions, at least a second.</summary>
    private TimeSpan EstimateWait(int ahead) =>
        TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling(ahead * _averageHoldSeconds / _slots.Length), 1, 3600));

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var waiter in _waiting) waiter.TrySetException(new ObjectDisposedException(nameof(SessionPool)));
            _waiting.Clear();
        }
        foreach (var slot in _slots) slot.Dispose();
    }
}
