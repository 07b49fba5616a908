using Mistral.Gguf;

namespace Mistral.Fuzz.Gguf;

/// <summary>
/// A minimal byte-level BPE ("gpt2" model, "tekken" pre-tokenizer) vocabulary for the seed corpus: 5 control tokens,
/// the 256 byte characters, and the results of a few merges, so the fuzzer starts from a file that takes the Tekken
/// path of MistralTokenizer.FromGguf.
/// </summary>
internal static class TekkenVocabulary
{
    private static readonly string[] Controls = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"];
    private static readonly string[] Merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"];
    private static readonly string[] Merged = ["he", "ll", "hell", "hello", "Ġw", "or", "Ġwor"];

    /// <summary>Tokens in the vocabulary.</summary>
    public static int Size => Controls.Length + 256 + Merged.Length;

    public static void AddTo(GgufWriter writer)
    {
        var tokens = new List<string>(Controls);
        for (var b = 0; b < 256; b++) tokens.Add(ByteChar(b).ToString());
        tokens.AddRange(Merged);
        writer.Add("tokenizer.ggml.model", "gpt2");
        writer.Add("tokenizer.ggml.pre", "tekken");
        writer.Add("tokenizer.ggml.tokens", tokens.ToArray());
        writer.Add("tokenizer.ggml.token_type", tokens.Select((_, i) => i < Controls.Length ? 3 : 1).ToArray());
        writer.Add("tokenizer.ggml.merges", Merges);
        writer.Add("tokenizer.ggml.bos_token_id", 1u);
        writer.Add("tokenizer.ggml.eos_token_id", 2u);
        writer.Add("tokenizer.ggml.unknown_token_id", 0u);
    }

    /// <summary>
    /// GPT-2's byte-to-character map: printable Latin-1 bytes stand for themselves, the other 68 bytes take the
    /// characters from U+0100 on, in byte order.
    /// </summary>
    private static char ByteChar(int b)
    {
        static bool Printable(int c) => c is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';
        if (Printable(b)) return (char)b;
        var n = 0;
        for (var c = 0; c < b; c++)
        {
            if (!Printable(c)) n++;
        }
        return (char)(256 + n);
    }
}
