using System.Globalization;
using Microsoft.Extensions.Logging;
using Mistral.Gguf;

namespace Mistral.Tokenization;

/// <summary>
/// Reads an optional special-token id (<c>tokenizer.ggml.bos_token_id</c>, <c>eos_token_id</c>,
/// <c>unknown_token_id</c>, <c>padding_token_id</c>) from GGUF metadata with llama.cpp's tolerance.
/// </summary>
/// <remarks>
/// <para>
/// gguf-py writes "no such token" as -1 in a uint32 field, i.e. 4294967295, and converted files in the wild carry it
/// (most often for the padding id). Other files write ids as int32 (-1 for none), uint64, int64 or narrower integers.
/// llama.cpp reads each id as a uint32 and, when it is not below the vocabulary size, warns ("bad special token")
/// and carries on. So any integer type is accepted here, and any value outside <c>[0, vocabulary size)</c> — 0xFFFFFFFF,
/// a negative int32, an id past the last token — means the token is absent (-1), logged at debug level.
/// </para>
/// <para>
/// One deliberate difference: llama.cpp keeps its built-in default when the stored id is out of range (e.g. BOS 1
/// for SentencePiece), whereas here the token becomes absent. A file that says "-1" means "this vocabulary has no
/// such token", and guessing that id 1 is BOS anyway could feed the model a token it was never trained to start
/// with. A model without BOS is then prompted without one (see <see cref="MistralTokenizer.AddBos"/>) and a model
/// without EOS stops only on the token limit or a stop string.
/// </para>
/// <para>
/// A built-in default that is itself outside a (small, e.g. vocabulary-only test) vocabulary is absent too, rather
/// than an error: the file said nothing wrong. A value that is not an integer at all (a string, a float) is refused
/// naming the key, as llama.cpp refuses a key of the wrong type.
/// </para>
/// </remarks>
internal static class SpecialTokenIds
{
    /// <summary>The id, or -1 when the key is absent and so is its default, or the value names no token.</summary>
    /// <param name="file">The GGUF file.</param>
    /// <param name="key">The full key, e.g. <c>tokenizer.ggml.padding_token_id</c>.</param>
    /// <param name="fallback">llama.cpp's default for an absent key (-1 for "none").</param>
    /// <param name="vocabSize">The number of tokens in <c>tokenizer.ggml.tokens</c>.</param>
    /// <param name="logger">Where ignored ids are reported, if anywhere.</param>
    /// <exception cref="InvalidDataException">The value is not an integer; the message names the key.</exception>
    public static int Read(GgufFile file, string key, int fallback, int vocabSize, ILogger? logger)
    {
        Int128 id = fallback;
        var present = file.TryGetValue(key, out var value);
        if (present && !value.TryGetInteger(out id))
            throw new InvalidDataException($"{key} is a {value.Type}, not an integer token id.");

        if (id >= 0 && id < vocabSize)
            return (int)id;

        // An absent key whose default is "none" is the ordinary case, not worth a log line.
        if (present || id != -1)
        {
            logger?.LogDebug(
                "{Key} = {Id} ({Source}) is not a token of the {VocabSize}-token vocabulary; the vocabulary is taken to have no such token, as llama.cpp ignores it",
                key, id.ToString(CultureInfo.InvariantCulture), present ? $"stored as {value.Type}" : "default", vocabSize);
        }

        return -1;
    }
}
