using System.Runtime.InteropServices;

namespace Mistral.Interop;

/// <summary>
/// The one place where a native status becomes a .NET exception: it reads the native thread-local
/// message and picks the exception type a .NET caller expects for that kind of failure.
/// </summary>
internal static class NativeStatus
{
    internal static void Check(mst_status status, string operation)
    {
        if (status != mst_status.MST_OK) throw ToException(status, operation);
    }

    internal static Exception ToException(mst_status status, string operation)
    {
        var detail = LastError();
        var message = string.IsNullOrEmpty(detail) ? $"{operation} failed ({status})." : $"{operation} failed: {detail}";
        return status switch
        {
            mst_status.MST_ERR_INVALID_ARGUMENT => new ArgumentException(message),
            mst_status.MST_ERR_UNSUPPORTED => new NotSupportedException(message),
            // Host or device memory; for the GPU the native message gives the bytes needed and free.
            mst_status.MST_ERR_OUT_OF_MEMORY => new InsufficientMemoryException(message),
            mst_status.MST_ERR_CONTEXT_FULL => new ContextFullException(message),
            mst_status.MST_ERR_ABI_MISMATCH => new MistralNativeLibraryException(message),
            mst_status.MST_ERR_BUSY => new InvalidOperationException(message),
            // The native message names the driver call, the driver's error and what to do.
            mst_status.MST_ERR_DEVICE => new MistralDeviceException(message),
            _ => new MistralException(message),
        };
    }

    internal static unsafe string LastError()
    {
        var text = NativeMethods.mst_last_error();
        return text == null ? string.Empty : Marshal.PtrToStringUTF8((nint)text) ?? string.Empty;
    }
}
