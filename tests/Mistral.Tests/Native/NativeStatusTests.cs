using Mistral.Interop;

namespace Mistral.Tests.Native;

/// <summary>
/// The one place native statuses become exceptions: a device failure is a <see cref="MistralDeviceException"/> and
/// running out of (device) memory an <see cref="InsufficientMemoryException"/>, each carrying the native message,
/// which for the GPU names the driver call and error, or the bytes needed and free.
/// </summary>
[TestFixture]
public class NativeStatusTests
{
    // The status as its number: the generated enum is internal, so it cannot be a public test's parameter type.
    [TestCase((int)mst_status.MST_ERR_DEVICE, typeof(MistralDeviceException))]
    [TestCase((int)mst_status.MST_ERR_OUT_OF_MEMORY, typeof(InsufficientMemoryException))]
    [TestCase((int)mst_status.MST_ERR_UNSUPPORTED, typeof(NotSupportedException))]
    [TestCase((int)mst_status.MST_ERR_CONTEXT_FULL, typeof(ContextFullException))]
    public unsafe void A_status_becomes_its_exception_with_the_operation_and_the_native_message(int status, Type expected)
    {
        // Any failing call leaves its explanation in mst_last_error(), which ToException must pass on unchanged.
        Assert.That(NativeMethods.mst_backend_query(7, 0, null), Is.Not.EqualTo(mst_status.MST_OK));
        var detail = NativeStatus.LastError();
        Assert.That(detail, Is.Not.Empty);

        var exception = NativeStatus.ToException((mst_status)status, "Loading 'm.gguf' on CUDA device 0 (NVIDIA H100)");

        Assert.That(exception, Is.TypeOf(expected));
        Assert.That(exception.Message, Is.EqualTo($"Loading 'm.gguf' on CUDA device 0 (NVIDIA H100) failed: {detail}"));
    }
}
