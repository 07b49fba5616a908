namespace Mistral.Server.Sessions;

/// <summary>A request's exclusive hold on one session; disposing it gives the session back to the pool (once).</summary>
internal sealed class SessionLease : IDisposable
{
    private readonly SessionPool _pool;
    private readonly long _startedAt = Environment.TickCount64;
    private int _released;

    internal SessionLease(SessionPool pool, SessionSlot slot)
    {
        _pool = pool;
        Slot = slot;
    }

    public SessionSlot Slot { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        _pool.Release(Slot, TimeSpan.FromMilliseconds(Environment.TickCount64 - _startedAt));
    }
}
