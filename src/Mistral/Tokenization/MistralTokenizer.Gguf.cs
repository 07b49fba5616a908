using Microsoft.Extensions.Logging;
using Mistral.Gguf;

namespace Mistral.Tokenization;

// Reading the tokenizer from a GGUF file's tokenizer.ggml.* metadata.
public sealed partial class MistralTokenizer
{
    /// <summary>Builds the tokenizer a GGUF file describes.</summary>
    /// <param name="file">An opened GGUF file.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="file"/> is null.</exception>
    /// <exception cref="NotSupportedException"><c>tokenizer.ggml.model</c> is neither "llama" nor "gpt2", or
    /// <c>tokenizer.ggml.pre</c> of a "gpt2" file is not "tekken".</exception>
    /// <exception cref="InvalidDataException">A tokenizer key is missing, has the wrong type, or is inconsistent;
    /// the message names the key.</exception>
    public static MistralTokenizer FromGguf(GgufFile file) => FromGguf(file, null);

    /// <summary>
    /// Builds the tokenizer a GGUF file describes, reporting to <paramref name="logger"/> (at debug level) the metadata
    /// it tolerates rather than refuses, as llama.cpp does: a special-token id outside the vocabulary (such as
    /// 4294967295, gguf-py's "none") is taken as absent, and <c>add_bos_token</c> without a BOS token adds none.
    /// </summary>
    /// <param name="file">An opened GGUF file. It may hold only a vocabulary and no tensors.</param>
    /// <param name="logger">Where tolerated oddities are reported; <see langword="null"/> for nowhere.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="file"/> is null.</exception>
    /// <exception cref="NotSupportedException"><c>tokenizer.ggml.model</c> is neither "llama" nor "gpt2", or
    /// <c>tokenizer.ggml.pre</c> of a "gpt2" file is not "tekken".</exception>
    /// <exception cref="InvalidDataException">A tokenizer key is missing, has the wrong type, or is inconsistent;
    /// the message names the key.</exception>
    public static MistralTokenizer FromGguf(GgufFile file, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(file);

        var model = Read(file, "tokenizer.ggml.model", static (f, k) => f.GetString(k))
            ?? throw new InvalidDataException("The GGUF file has no tokenizer.ggml.model key (string).");
        ThrowIfUnsupportedModel(model);

        var tokens = Read(file, "tokenizer.ggml.tokens", static (f, k) => f.GetArray<string>(k))
            ?? throw new InvalidDataException("The GGUF file has no tokenizer.ggml.tokens key (array of strings).");
        // Scores and types are optional in llama.cpp (defaults 0 and normal); a present key of the wrong type is
        // an error (from Read) rather than silently ignored. The GGUF accessors already take scores as float32 or
        // float64 and token types as any integer type whose values fit.
        var scores = Read(file, "tokenizer.ggml.scores", static (f, k) => f.GetArray<float>(k));
        var types = Read(file, "tokenizer.ggml.token_type", static (f, k) => f.GetArray<int>(k));
        int Id(string key, int fallback) => SpecialTokenIds.Read(file, key, fallback, tokens.Length, logger);

        TokenizerVocabulary vocab;
        if (model == "gpt2")
        {
            var merges = Read(file, "tokenizer.ggml.merges", static (f, k) => f.GetArray<string>(k))
                ?? throw new InvalidDataException("The GGUF file has a \"gpt2\" tokenizer but no tokenizer.ggml.merges key (array of strings).");
            var pre = file.TryGetValue("tokenizer.ggml.pre", out _)
                ? Read(file, "tokenizer.ggml.pre", static (f, k) => f.GetString(k))
                : null;
            vocab = new TokenizerVocabulary
            {
                Model = model,
                PreTokenizer = pre,
                Merges = merges,
                Tokens = tokens,
                Scores = scores,
                TokenTypes = types,
                // llama.cpp's BPE defaults when a key is absent: BOS and EOS 11, no UNK or PAD; "tekken" adds BOS.
                BosId = Id("tokenizer.ggml.bos_token_id", 11),
                EosId = Id("tokenizer.ggml.eos_token_id", 11),
                UnkId = Id("tokenizer.ggml.unknown_token_id", -1),
                PadId = Id("tokenizer.ggml.padding_token_id", -1),
                AddBos = ReadBool(file, "tokenizer.ggml.add_bos_token", pre == "tekken"),
                AddEos = ReadBool(file, "tokenizer.ggml.add_eos_token", false),
                AddSpacePrefix = ReadBool(file, "tokenizer.ggml.add_space_prefix", false),
            };
        }
        else
        {
            vocab = new TokenizerVocabulary
            {
                Model = model,
                Tokens = tokens,
                Scores = scores,
                TokenTypes = types,
                // llama.cpp's SPM defaults when a key is absent: BOS 1, EOS 2, UNK 0, no PAD.
                BosId = Id("tokenizer.ggml.bos_token_id", 1),
                EosId = Id("tokenizer.ggml.eos_token_id", 2),
                UnkId = Id("tokenizer.ggml.unknown_token_id", 0),
                PadId = Id("tokenizer.ggml.padding_token_id", -1),
                AddBos = ReadBool(file, "tokenizer.ggml.add_bos_token", true),
                AddEos = ReadBool(file, "tokenizer.ggml.add_eos_token", false),
                AddSpacePrefix = ReadBool(file, "tokenizer.ggml.add_space_prefix", true),
            };
        }

        // The constructor drops add_bos/add_eos for a token the vocabulary lacks; say so, since the file asked for it.
        if (vocab.AddBos && vocab.BosId < 0)
            logger?.LogDebug("tokenizer.ggml.add_bos_token is set but the vocabulary has no BOS token; prompts get none");
        if (vocab.AddEos && vocab.EosId < 0)
            logger?.LogDebug("tokenizer.ggml.add_eos_token is set but the vocabulary has no EOS token; prompts get none");
        return new MistralTokenizer(vocab);
    }

    // GGUF booleans are one byte; a writer that stored the flag as an integer 0 or 1 means the same thing, so that is
    // accepted too. Anything else (2, a string) says nothing reliable and is refused naming the key.
    private static bool ReadBool(GgufFile file, string key, bool fallback)
    {
        if (!file.TryGetValue(key, out var value))
            return fallback;
        if (value.Type == GgufValueType.Bool)
            return value.AsBoolean();
        if (value.TryGetInteger(out var i) && (i == 0 || i == 1))
            return i == 1;
        throw new InvalidDataException($"{key} is {(value.Type == GgufValueType.Array ? "an array" : $"the {value.Type} {value}")}, not a boolean.");
    }

    // The GGUF reader reports a value of the wrong type as GgufFormatException; tokenizer problems are reported
    // uniformly as InvalidDataException naming the key.
    private static T Read<T>(GgufFile file, string key, Func<GgufFile, string, T> get)
    {
        try
        {
            return get(file, key);
        }
        catch (GgufFormatException ex)
        {
            throw new InvalidDataException($"{key}: {ex.Message}", ex);
        }
    }
}
