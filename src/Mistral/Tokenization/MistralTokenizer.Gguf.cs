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
    public static MistralTokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);

        var model = Read(file, "tokenizer.ggml.model", static (f, k) => f.GetString(k))
            ?? throw new InvalidDataException("The GGUF file has no tokenizer.ggml.model key (string).");
        ThrowIfUnsupportedModel(model);

        var tokens = Read(file, "tokenizer.ggml.tokens", static (f, k) => f.GetArray<string>(k))
            ?? throw new InvalidDataException("The GGUF file has no tokenizer.ggml.tokens key (array of strings).");
        // Scores and types are optional in llama.cpp (defaults 0 and normal); a present key of the wrong type is
        // an error (from Read) rather than silently ignored.
        var scores = Read(file, "tokenizer.ggml.scores", static (f, k) => f.GetArray<float>(k));
        var types = Read(file, "tokenizer.ggml.token_type", static (f, k) => f.GetArray<int>(k));

        if (model == "gpt2")
        {
            var merges = Read(file, "tokenizer.ggml.merges", static (f, k) => f.GetArray<string>(k))
                ?? throw new InvalidDataException("The GGUF file has a \"gpt2\" tokenizer but no tokenizer.ggml.merges key (array of strings).");
            var pre = file.TryGetValue("tokenizer.ggml.pre", out _)
                ? Read(file, "tokenizer.ggml.pre", static (f, k) => f.GetString(k))
                : null;
            return new MistralTokenizer(new TokenizerVocabulary
            {
                Model = model,
                PreTokenizer = pre,
                Merges = merges,
                Tokens = tokens,
                Scores = scores,
                TokenTypes = types,
                // llama.cpp's BPE defaults when a key is absent: BOS and EOS 11, no UNK or PAD; "tekken" adds BOS.
                BosId = ReadId(file, "tokenizer.ggml.bos_token_id", 11),
                EosId = ReadId(file, "tokenizer.ggml.eos_token_id", 11),
                UnkId = ReadId(file, "tokenizer.ggml.unknown_token_id", -1),
                PadId = ReadId(file, "tokenizer.ggml.padding_token_id", -1),
                AddBos = ReadBool(file, "tokenizer.ggml.add_bos_token", pre == "tekken"),
                AddEos = ReadBool(file, "tokenizer.ggml.add_eos_token", false),
                AddSpacePrefix = ReadBool(file, "tokenizer.ggml.add_space_prefix", false),
            });
        }

        return new MistralTokenizer(new TokenizerVocabulary
        {
            Model = model,
            Tokens = tokens,
            Scores = scores,
            TokenTypes = types,
            // llama.cpp's SPM defaults when a key is absent: BOS 1, EOS 2, UNK 0, no PAD.
            BosId = ReadId(file, "tokenizer.ggml.bos_token_id", 1),
            EosId = ReadId(file, "tokenizer.ggml.eos_token_id", 2),
            UnkId = ReadId(file, "tokenizer.ggml.unknown_token_id", 0),
            PadId = ReadId(file, "tokenizer.ggml.padding_token_id", -1),
            AddBos = ReadBool(file, "tokenizer.ggml.add_bos_token", true),
            AddEos = ReadBool(file, "tokenizer.ggml.add_eos_token", false),
            AddSpacePrefix = ReadBool(file, "tokenizer.ggml.add_space_prefix", true),
        });
    }

    private static int ReadId(GgufFile file, string key, int fallback)
    {
        if (!file.TryGetValue(key, out _))
            return fallback;
        var value = Read(file, key, static (f, k) => f.GetUInt32(k))
            ?? throw new InvalidDataException($"{key} is not an unsigned 32-bit integer.");
        if (value > int.MaxValue)
            throw new InvalidDataException($"{key} is {value}, outside the vocabulary.");
        return (int)value;
    }

    private static bool ReadBool(GgufFile file, string key, bool fallback)
    {
        if (!file.TryGetValue(key, out _))
            return fallback;
        return Read(file, key, static (f, k) => f.GetBoolean(k))
            ?? throw new InvalidDataException($"{key} is not a boolean.");
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
