namespace Mistral.Gguf;

/// <summary>
/// Thrown when a GGUF file is malformed, truncated, or uses a feature this reader does not support,
/// and when a metadata value is read as the wrong type.
/// </summary>
/// <remarks>
/// The message always names what was wrong; when known it also names the file and the byte offset
/// at which the problem was detected, so a user can tell a corrupt download from a bug.
/// <see cref="MistralModel.Load"/> reports every "this file is bad" failure as this type, the
/// tokenizer's metadata checks included.
/// </remarks>
public class GgufFormatException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public GgufFormatException()
        : base("The GGUF data is malformed.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">What was wrong.</param>
    public GgufFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and inner exception.</summary>
    /// <param name="message">What was wrong.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public GgufFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception that names the file and the byte offset of the problem.</summary>
    /// <param name="message">What was wrong (without the path or offset; they are added).</param>
    /// <param name="filePath">The file being read, if any.</param>
    /// <param name="offset">The byte offset at which the problem was detected, if known.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public GgufFormatException(string message, string? filePath, long? offset, Exception? innerException = null)
        : base(Compose(message, filePath, offset), innerException)
    {
        FilePath = filePath;
        Offset = offset;
    }

    /// <summary>The GGUF file being read when the problem was found, or <see langword="null"/> if unknown.</summary>
    public string? FilePath { get; }

    /// <summary>The byte offset in the file at which the problem was found, or <see langword="null"/> if unknown.</summary>
    public long? Offset { get; }

    private static string Compose(string message, string? filePath, long? offset)
    {
        string where = (filePath, offset) switch
        {
            (not null, not null) => $"GGUF file '{filePath}' at byte offset {offset}: ",
            (not null, null) => $"GGUF file '{filePath}': ",
            (null, not null) => $"GGUF data at byte offset {offset}: ",
            _ => "GGUF: ",
        };
        return where + message;
    }
}
