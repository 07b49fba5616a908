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
    /// <summary>The model this context was made from, AddRef'd so its weights outlive the context.</summary>
    internal MstModelHandle? Model { get; set; }

    partial void OnReleased() => Model?.DangerousRelease();
}

internal static unsafe partial class NativeMethods
{
    // Runs before the first P/Invoke of this class binds, so the resolver (which explains failures and
    // checks the ABI version) is always in place, whichever entry point is used first.
    static NativeMethods() => NativeLibraryLoader.RegisterResolver();
}
