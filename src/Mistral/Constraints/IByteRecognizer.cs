namespace Mistral.Constraints;

/// <summary>
/// A recognizer that reads generated text one UTF-8 byte at a time, held in a value type so that testing a token is
/// a copy and a few pushes. <see cref="TokenTrie"/> and <see cref="TokenMask{TState}"/> work over any of them: plain
/// JSON (<see cref="JsonRecognizer"/>) or JSON that must also follow a schema (<see cref="SchemaRecognizer"/>).
/// Equality must hold between states that accept the same continuations, as masks are cached by state.
/// </summary>
internal interface IByteRecognizer<TSelf> : IEquatable<TSelf>
    where TSelf : struct, IByteRecognizer<TSelf>
{
    /// <summary>Advances by one byte; false when no continuation of the bytes so far can be accepted (the state is then unusable).</summary>
    bool Push(byte b);

    /// <summary>The bytes so far form a complete text: the end of sequence may come here.</summary>
    bool IsComplete { get; }

    /// <summary>Complete, and nothing but whitespace could follow: there is nothing left to generate.</summary>
    bool IsClosed { get; }
}
