using Mistral.Tokenization;

namespace Mistral.Tests.Tokenization;

/// <summary>Hand-built SentencePiece-style vocabularies with the llama layout: unk, bos, eos, 256 bytes, pieces.</summary>
internal static class TestVocabularies
{
    public const int Unk = 0;
    public const int Bos = 1;
    public const int Eos = 2;

    /// <summary>The id of byte token &lt;0xXX&gt; in these vocabularies (as in Llama/Mistral: 3 + byte).</summary>
    public static int ByteId(int b) => 3 + b;

    /// <summary>Builds unk/bos/eos, the 256 byte tokens, then the given pieces (normal unless a type is given).</summary>
    public static TokenizerVocabulary Build(IEnumerable<(string Text, float Score, TokenType Type)> pieces, bool addSpacePrefix = true)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var scores = new List<float> { 0, 0, 0 };
        var types = new List<int> { (int)TokenType.Unknown, (int)TokenType.Control, (int)TokenType.Control };
        for (var b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            scores.Add(0);
            types.Add((int)TokenType.Byte);
        }
        foreach (var (text, score, type) in pieces)
        {
            tokens.Add(text);
            scores.Add(score);
            types.Add((int)type);
        }
        return new TokenizerVocabulary
        {
            Tokens = [.. tokens],
            Scores = [.. scores],
            TokenTypes = [.. types],
            AddSpacePrefix = addSpacePrefix,
        };
    }

    /// <summary>The small English vocabulary most tests use; <see cref="Id"/> finds a piece's id.</summary>
    public static readonly (string Text, float Score, TokenType Type)[] SmallPieces =
    [
        ("▁", -5f, TokenType.Normal),
        ("h", -6f, TokenType.Normal),
        ("e", -6f, TokenType.Normal),
        ("l", -6f, TokenType.Normal),
        ("o", -6f, TokenType.Normal),
        ("w", -6f, TokenType.Normal),
        ("r", -6f, TokenType.Normal),
        ("d", -6f, TokenType.Normal),
        ("1", -6f, TokenType.Normal),
        ("2", -6f, TokenType.Normal),
        ("a", -6f, TokenType.Normal),
        ("b", -6f, TokenType.Normal),
        ("c", -6f, TokenType.Normal),
        ("▁h", -1f, TokenType.Normal),
        ("▁he", -1.5f, TokenType.Normal),
        ("▁hel", -2f, TokenType.Normal),
        ("▁hell", -2.5f, TokenType.Normal),
        ("▁hello", -3f, TokenType.Normal),
        ("▁w", -1f, TokenType.Normal),
        ("or", -1.2f, TokenType.Normal),
        ("ld", -1.3f, TokenType.Normal),
        ("▁wor", -2f, TokenType.Normal),
        ("▁world", -2.5f, TokenType.Normal),
        ("▁▁", -4f, TokenType.Normal),
        // "ab" is leftmost but "bc" scores higher: SentencePiece BPE must pick "bc".
        ("ab", -5f, TokenType.Normal),
        ("bc", -0.5f, TokenType.Normal),
        ("[INST]", 0f, TokenType.Control),
        ("[/INST]", 0f, TokenType.Control),
        ("<ud>", 0f, TokenType.UserDefined),
        ("[unused]", 0f, TokenType.Unused),
    ];

    public static TokenizerVocabulary Small(bool addSpacePrefix = true) => Build(SmallPieces, addSpacePrefix);

    public static int Id(string piece) => 3 + 256 + Array.FindIndex(SmallPieces, p => p.Text == piece);
}
