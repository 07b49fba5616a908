using System.Text;
using Mistral.Tokenization;

namespace Mistral.Tests.Sampling;

/// <summary>Vocabularies for testing the JSON token mask: small ones full of JSON fragments, and large ones sized like real models'.</summary>
internal static class JsonVocabularies
{
    /// <summary>JSON fragments that cross token boundaries in the ways real vocabularies do.</summary>
    public static readonly string[] Fragments =
    [
        "{", "}", "{}", "[", "]", "[]", "{\"", "\":", "\": \"", "\",", "\", \"", "\"}", "\"]", "},", "],", "}}", "]]", ",", ":",
        "true", "false", "null", "tru", "nu", "ll", "fals", "e", "0", "1", "12", "0.", ".5", "e+", "E-", "-", "-1", "00",
        "\\", "\\n", "\\\"", "\\u", "00e9", "\\u00", "é", "日本", "😀", "a", "ab", "key", "name", "\"name\"", "x y", "\t", "\n", "  ",
        "    ", "\n  ", " {", " [", "\": {", "\": [", "}\n", "1}", "2]", "a\"", "\"a",
    ];

    /// <summary>SentencePiece-style: control tokens, 256 byte tokens, then <see cref="Fragments"/> (spaces as ▁).</summary>
    public static MistralTokenizer SentencePiece()
    {
        var (tokens, types) = SyntheticModel.ControlAndByteTokens();
        foreach (var fragment in Fragments)
        {
            tokens.Add(fragment.Replace(' ', '\u2581'));
            types.Add(1);
        }
        return new MistralTokenizer(new TokenizerVocabulary { Tokens = tokens, TokenTypes = types, BosId = 1, EosId = 2, UnkId = 0 });
    }

    /// <summary>
    /// Tekken-style byte-level BPE: control tokens, the 256 bytes, <see cref="Fragments"/>, and pieces that end or
    /// start in the middle of a UTF-8 character (as byte-level vocabularies have).
    /// </summary>
    public static MistralTokenizer ByteLevel(int size = 0, int seed = 1)
    {
        var pieces = new List<byte[]>();
        for (var b = 0; b < 256; b++) pieces.Add([(byte)b]);
        foreach (var fragment in Fragments) pieces.Add(Encoding.UTF8.GetBytes(fragment));
        var emoji = Encoding.UTF8.GetBytes("😀");
        pieces.Add(emoji[..2]);
        pieces.Add(emoji[2..]);
        pieces.Add([(byte)'"', .. emoji[..3]]);
        var random = new Random(seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        foreach (var piece in pieces)
        {
            var text = ByteLevelEncoding.Encode(piece);
            if (seen.Add(text)) tokens.Add(text);
        }
        // Filler up to the requested size: word-like pieces, with a leading space or punctuation like real BPE entries.
        while (tokens.Count < size)
        {
            var word = new StringBuilder();
            word.Append(random.Next(6) switch { 0 => " ", 1 => "\"", 2 => "_", _ => "" });
            var length = random.Next(1, 11);
            for (var i = 0; i < length; i++) word.Append((char)('a' + random.Next(26)));
            if (random.Next(8) == 0) word.Append(random.Next(4) switch { 0 => "\":", 1 => ",", 2 => "\"", _ => "é" });
            var text = ByteLevelEncoding.Encode(Encoding.UTF8.GetBytes(word.ToString()));
            if (seen.Add(text)) tokens.Add(text);
        }
        return new MistralTokenizer(new TokenizerVocabulary
        {
            Model = "gpt2",
            PreTokenizer = "tekken",
            Merges = [],
            Tokens = tokens,
            TokenTypes = [.. tokens.Select((_, i) => i < 3 ? 3 : 1)],
            BosId = 1,
            EosId = 2,
            UnkId = 0,
            AddSpacePrefix = false,
        });
    }

    /// <summary>SentencePiece-style filled to <paramref name="size"/> with word pieces (a Mistral 7B-sized vocabulary at 32,768).</summary>
    public static MistralTokenizer SentencePiece(int size, int seed = 1)
    {
        var (tokens, types) = SyntheticModel.ControlAndByteTokens();
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (var fragment in Fragments)
        {
            if (seen.Add(fragment.Replace(' ', '\u2581'))) { tokens.Add(fragment.Replace(' ', '\u2581')); types.Add(1); }
        }
        var random = new Random(seed);
        while (tokens.Count < size)
        {
            var word = new StringBuilder(random.Next(2) == 0 ? "\u2581" : "");
            var length = random.Next(1, 9);
            for (var i = 0; i < length; i++) word.Append((char)('a' + random.Next(26)));
            if (seen.Add(word.ToString())) { tokens.Add(word.ToString()); types.Add(1); }
        }
        return new MistralTokenizer(new TokenizerVocabulary { Tokens = tokens, TokenTypes = types, BosId = 1, EosId = 2, UnkId = 0 });
    }
}
