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
