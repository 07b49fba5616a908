namespace Mistral;

/// <summary>The base of the exceptions this library throws for its own failures.</summary>
public class MistralException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public MistralException() { }

    /// <summary>Creates an exception with a message.</summary>
    public MistralException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public MistralException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The tokens asked for do not fit in the session's context (its KV cache).</summary>
public sealed class ContextFullException : MistralException
{
    /// <summary>Creates an exception with no message.</summary>
    public ContextFullException() { }

    /// <summary>Creates an exception with a message.</summary>
    public ContextFullException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public ContextFullException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// The native library could not be found, loaded, or is of another ABI version than this assembly.
/// The message lists every path that was tried and what to install.
/// </summary>
public sealed class MistralNativeLibraryException : MistralException
{
    /// <summary>Creates an exception with no message.</summary>
    public MistralNativeLibraryException() { }

    /// <summary>Creates an exception with a message.</summary>
    public MistralNativeLibraryException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public MistralNativeLibraryException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// A backend's device cannot be used: the CUDA backend was asked for where it cannot run (no NVIDIA driver, no
/// device, no such device ordinal), or the GPU driver or device failed during a call. The message says what was
/// looked for or which driver call failed, and what to do.
/// </summary>
public sealed class MistralDeviceException : MistralException
{
    /// <summary>Creates an exception with no message.</summary>
    public MistralDeviceException() { }

    /// <summary>Creates an exception with a message.</summary>
    public MistralDeviceException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public MistralDeviceException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// A forward pass produced NaN or infinite values: the model's weights or norms hold non-finite values (a damaged or
/// badly converted file), or its activations overflow. Sampling from such logits would silently pick token 0 forever,
/// so generation stops instead. The session stays where it was before the call.
/// <see cref="ModelOptions.ScanWeightsForNonFinite"/> finds the tensor; <see cref="SessionOptions.DiagnoseNonFinite"/>
/// finds the layer.
/// </summary>
public sealed class NonFiniteOutputException : MistralException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteOutputException() { }

    /// <summary>Creates the exception with a message.</summary>
    public NonFiniteOutputException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public NonFiniteOutputException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for the token at <paramref name="position"/> (and the layer, when diagnosed).</summary>
    public NonFiniteOutputException(string message, int position, int? layer) : base(message)
    {
        Position = position;
        Layer = layer;
    }

    /// <summary>Position (index in the session) of the first token whose output was not finite.</summary>
    public int Position { get; }

    /// <summary>
    /// The layer that produced the NaN/Inf when it is known: a mixture-of-experts router's, always; any other, with
    /// <see cref="SessionOptions.DiagnoseNonFinite"/> (-1: the token embedding itself). Null when only the output was
    /// checked.
    /// </summary>
    public int? Layer { get; }
}

/// <summary>
/// A model (with one session of the asked context) would not fit in the memory available to it, so nothing was
/// allocated. Thrown by <see cref="MistralModel.Load"/> before the native model is created, and by
/// <see cref="MistralModel.CreateSession"/> for a session larger than the one the load was checked for. The message
/// gives the numbers and what to do: a smaller <see cref="SessionOptions.ContextLength"/>, an F16 KV cache, a smaller
/// quantization of the model; <see cref="ModelOptions.CheckMemory"/> turns the check off.
/// </summary>
public sealed class ModelMemoryException : MistralException
{
    /// <summary>Creates an exception with no message.</summary>
    public ModelMemoryException() { }

    /// <summary>Creates an exception with a message.</summary>
    public ModelMemoryException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public ModelMemoryException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with its numbers.</summary>
    public ModelMemoryException(string message, long neededBytes, long availableBytes, bool onDevice, MemoryEstimate estimate) : base(message)
    {
        NeededBytes = neededBytes;
        AvailableBytes = availableBytes;
        OnDevice = onDevice;
        Estimate = estimate;
    }

    /// <summary>The bytes needed: host memory (<see cref="MemoryEstimate.Host"/>), or device memory when <see cref="OnDevice"/>.</summary>
    public long NeededBytes { get; }

    /// <summary>The bytes available: <see cref="ModelOptions.MemoryLimitBytes"/> when set, else what the system or the GPU has free.</summary>
    public long AvailableBytes { get; }

    /// <summary>True when the GPU's memory is what does not suffice; false for host memory.</summary>
    public bool OnDevice { get; }

    /// <summary>The estimate the numbers come from, part by part.</summary>
    public MemoryEstimate? Estimate { get; }
}
