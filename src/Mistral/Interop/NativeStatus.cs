using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Mistral.Interop;

/// <summary>
/// The one place where a native status becomes a .NET exception: it reads the native thread-local
/// message and picks the exception type a .NET caller expects for that kind of failure.
/// </summary>
internal static partial class NativeStatus
{
    internal static void Check(mst_status status, string operation)
    {
        if (status != mst_status.MST_OK) throw ToException(status, operation);
    }

    /// <summary>As <see cref="Check(mst_status, string)"/>, for a call that <paramref name="cancellationToken"/> may abort.</summary>
    internal static void Check(mst_status status, string operation, CancellationToken cancellationToken)
    {
        if (status != mst_status.MST_OK) throw ToException(status, operation, cancellationToken);
    }

    /// <param name="status">The failed call's status.</param>
    /// <param name="operation">What was being done, for the message.</param>
    /// <param name="cancellationToken">The token whose cancellation set the native abort flag: MST_ERR_CANCELLED
    /// becomes an <see cref="OperationCanceledException"/> carrying it, as .NET callers match on.</param>
    internal static Exception ToException(mst_status status, string operation, CancellationToken cancellationToken = default)
    {
        var detail = LastError();
        var outcome = status == mst_status.MST_ERR_CANCELLED ? "was cancelled" : "failed";
        var message = string.IsNullOrEmpty(detail) ? $"{operation} {outcome} ({status})." : $"{operation} {outcome}: {detail}";
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
            mst_status.MST_ERR_NON_FINITE => NonFinite(message, detail),
            mst_status.MST_ERR_CANCELLED => new OperationCanceledException(message, cancellationToken),
            _ => new MistralException(message),
        };
    }

    // The native message names "position N" and, when layers were checked, "layer L" or "the token embedding"
    // (context.c, forward.c): the exception carries them as numbers.
    private static NonFiniteOutputException NonFinite(string message, string detail)
    {
        var position = PositionPattern().Match(detail) is { Success: true } p ? int.Parse(p.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : -1;
        int? layer = LayerPattern().Match(detail) is { Success: true } l ? int.Parse(l.Groups[1].ValueSpan, CultureInfo.InvariantCulture)
            : detail.Contains("the token embedding produced", StringComparison.Ordinal) ? -1 : null;
        return new NonFiniteOutputException(message, position, layer);
    }

    [GeneratedRegex(@"at position (\d+)")]
    private static partial Regex PositionPattern();

    [GeneratedRegex(@"layer (\d+) produced")]
    private static partial Regex LayerPattern();

    internal static unsafe string LastError()
    {
        var text = NativeMethods.mst_last_error();
        return text == null ? string.Empty : Marshal.PtrToStringUTF8((nint)text) ?? string.Empty;
    }
}
