namespace Mistral.Interop;

// Hand-written halves of the generated SafeHandles: what each handle keeps alive, and lets go of
// only once the native object itself is freed.

internal sealed partial class MstModelHandle
{
    /// <summary>The memory the native model reads its weights from (the file mapping): freed after the model.</summary>
    internal IDisposable? WeightsOwner { get; set; }

    partial void OnReleased() => WeightsOwner?.Dispose();
}

internal sealed partial class MstContextHandle
{
    private static int _live;

    /// <summary>Native contexts created and not yet freed in this process: lets tests prove nothing leaks.</summary>
    internal static int Live => Volatile.Read(ref _live);

    /// <summary>The model this context was made from, AddRef'd so its weights outlive the context.</summary>
    internal MstModelHandle? Model
    {
        get;
        set
        {
            field = value;
            Interlocked.Increment(ref _live);
        }
    }

    partial void OnReleased()
    {
        Interlocked.Decrement(ref _live);
        Model?.DangerousRelease();
    }
}

internal static unsafe partial class NativeMethods
{
    // Runs before the first P/Invoke of this class binds, so the resolver (which explains failures and
    // checks the ABI version) is always in place, whichever entry point is used first.
    static NativeMethods() => NativeLibraryLoader.RegisterResolver();
}
