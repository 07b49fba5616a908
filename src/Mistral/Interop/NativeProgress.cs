using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Mistral.Interop;

/// <summary>
/// Forwards mst_model_create_with's progress callback to an <see cref="IProgress{T}"/>. The native fraction (0..1)
/// is mapped onto [<c>from</c>, <c>to</c>] of the whole load, and only increases are passed on. The callback runs
/// on the thread that called mst_model_create_with, during that call only, so the GCHandle that carries this object
/// through the native user-data pointer lives exactly as long as the call (the using around it).
/// </summary>
internal sealed unsafe class NativeProgress : IDisposable
{
    private readonly IProgress<double> _target;
    private readonly double _from;
    private readonly double _to;
    private GCHandle _self;
    private double _last;
    private Exception? _failure;

    private NativeProgress(IProgress<double> target, double from, double to)
    {
        _target = target;
        _from = from;
        _to = to;
        _last = from;
        _self = GCHandle.Alloc(this);
    }

    /// <summary>A forwarder, or null when nobody listens (the native side then gets no callback at all).</summary>
    internal static NativeProgress? For(IProgress<double>? target, double from, double to) =>
        target is null ? null : new NativeProgress(target, from, to);

    /// <summary>Points the params' callback at this forwarder.</summary>
    internal void Attach(ref mst_model_params modelParams)
    {
        modelParams.progress = &OnProgress;
        modelParams.progress_user_data = (void*)GCHandle.ToIntPtr(_self);
    }

    /// <summary>Rethrows, on the caller's thread, what the user's IProgress threw inside the callback (it cannot cross native frames).</summary>
    internal void ThrowIfFailed()
    {
        if (_failure is not null) ExceptionDispatchInfo.Throw(_failure);
    }

    public void Dispose()
    {
        if (_self.IsAllocated) _self.Free();
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnProgress(float fraction, void* userData)
    {
        // An exception must not unwind into the native caller (that would end the process): keep the first one.
        NativeProgress? self = null;
        try
        {
            self = (NativeProgress?)GCHandle.FromIntPtr((nint)userData).Target;
            if (self is null || self._failure is not null || float.IsNaN(fraction)) return;
            var value = self._from + (self._to - self._from) * Math.Clamp(fraction, 0f, 1f);
            if (value <= self._last) return;
            self._last = value;
            self._target.Report(value);
        }
        catch (Exception ex)
        {
            if (self is not null) self._failure ??= ex;
        }
    }
}
