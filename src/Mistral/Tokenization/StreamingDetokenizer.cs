using System.Text;

namespace Mistral.Tokenization;

/// <summary>
/// Turns tokens into text one at a time, as they are generated, without ever emitting half a character:
/// a character spelled by several byte-fallback tokens (e.g. an emoji as <c>&lt;0xF0&gt;&lt;0x9F&gt;…</c>)
/// is held back until its last byte arrives.
/// </summary>
/// <remarks>
/// The outputs of <see cref="Append"/> followed by <see cref="Flush"/> concatenate to exactly
/// <see cref="MistralTokenizer.Decode"/> of the same ids with the same <c>renderSpecial</c>, including its
/// leading-space rule. Not thread-safe: one instance per generation stream.
/// </remarks>
public sealed class StreamingDetokenizer
{
    private readonly MistralTokenizer _tokenizer;
    private readonly bool _renderSpecial;

    // .NET's stateful UTF-8 decoder keeps an incomplete trailing sequence between calls and replaces invalid
    // bytes with U+FFFD exactly as a one-shot decode of all the bytes would, which is what keeps the
    // streamed text equal to Decode's.
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly bool _startsText;
    private bool _atTextStart;

    internal StreamingDetokenizer(MistralTokenizer tokenizer, bool renderSpecial, bool startsText)
    {
        _tokenizer = tokenizer;
        _renderSpecial = renderSpecial;
        _startsText = startsText;
        _atTextStart = startsText;
    }

    /// <summary>Adds one token and returns the text that is now complete (possibly empty).</summary>
    /// <param name="id">The token id.</param>
    /// <returns>Newly completed text: whole characters only; bytes of a character still missing its last bytes
    /// are kept for the next call.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is not in the vocabulary.</exception>
    public string Append(int id)
    {
        var bytes = _tokenizer.RenderPiece(id, _renderSpecial, ref _atTextStart);
        return bytes.IsEmpty ? string.Empty : DecodeChunk(bytes, flush: false);
    }

    /// <summary>
    /// Ends the stream: returns whatever is still held back (an incomplete character becomes U+FFFD) and resets
    /// the detokenizer to its initial state, so it can start a new sequence.
    /// </summary>
    /// <returns>The remaining text, usually empty.</returns>
    public string Flush()
    {
        var text = DecodeChunk([], flush: true);
        _decoder.Reset();
        _atTextStart = _startsText;
        return text;
    }

    private string DecodeChunk(ReadOnlySpan<byte> bytes, bool flush)
    {
        // At most 3 bytes are pending from earlier calls, each of which may turn into one U+FFFD.
        var buffer = new char[bytes.Length + 4];
        var n = _decoder.GetChars(bytes, buffer, flush);
        return n == 0 ? string.Empty : new string(buffer, 0, n);
    }
}
