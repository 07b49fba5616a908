using System.Text;
using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Tests.Tokenization;

/// <summary>Byte-level BPE ("gpt2" model, "tekken" pre-tokenizer): hand-checked ids, round trips, streaming, GGUF.</summary>
public sealed class ByteLevelBpeTokenizerTests
{
    // Ids 0-4 control tokens, 5-260 the byte alphabet (id = 5 + byte), then the merge results below.
    private const int Bos = 1;
    private const int Inst = 3;
    private const int EndInst = 4;
    private static int Byte(char c) => 5 + c;

    private static readonly string[] HandMerges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"];

    private static MistralTokenizer HandMade(bool extraWholeWord = false)
    {
        var tokens = new List<string>(ByteLevelBpeVocabularyBuilder.ControlTokens);
        for (var b = 0; b < 256; b++)
            tokens.Add(ByteLevelBpeVocabularyBuilder.ByteChar(b).ToString());
        tokens.AddRange(["he", "ll", "hell", "hello", "Ġw", "or", "Ġwor"]); // 261..267
        if (extraWholeWord)
            tokens.Add("xyz"); // 268: a vocabulary entry no merge produces
        return new MistralTokenizer(new TokenizerVocabulary
        {
            Model = "gpt2",
            PreTokenizer = "tekken",
            Merges = HandMerges,
            Tokens = tokens,
            TokenTypes = [.. tokens.Select((_, i) => i < 5 ? 3 : 1)],
            BosId = 1,
            EosId = 2,
            UnkId = 0,
            AddSpacePrefix = false,
        });
    }

    [Test]
    public void Hand_checked_ids_follow_merge_ranks()
    {
        var tok = HandMade();
        Assert.Multiple(() =>
        {
            // "hello" merges h+e, l+l, he+ll, hell+o; " world" is "Ġworld": Ġ+w (rank 4), o+r (5), Ġw+or (6), then l, d.
            Assert.That(tok.Encode("hello world", addBos: false), Is.EqualTo(new[] { 264, 267, Byte('l'), Byte('d') }));
            Assert.That(tok.Encode("hello", addBos: true), Is.EqualTo(new[] { Bos, 264 }));
            // No merge applies inside "dl": plain byte characters.
            Assert.That(tok.Encode("dl", addBos: false), Is.EqualTo(new[] { Byte('d'), Byte('l') }));
            // Non-ASCII: "é" is bytes C3 A9, spelled "Ã©", no merge.
            Assert.That(tok.Encode("é", addBos: false), Is.EqualTo(new[] { 5 + 0xC3, 5 + 0xA9 }));
            Assert.That(tok.Encode("", addBos: true), Is.EqualTo(new[] { Bos }));
        });
    }

    [Test]
    public void A_word_that_is_a_vocabulary_entry_is_taken_whole()
    {
        // Tekken's "ignore_merges": no merge builds "xyz", yet the word maps to its entry.
        Assert.That(HandMade(extraWholeWord: true).Encode("xyz", addBos: false), Is.EqualTo(new[] { 268 }));
        Assert.That(HandMade().Encode("xyz", addBos: false), Is.EqualTo(new[] { Byte('x'), Byte('y'), Byte('z') }));
    }

    [Test]
    public void Control_tokens_are_split_out_only_with_parseSpecial()
    {
        var tok = HandMade();
        Assert.Multiple(() =>
        {
            Assert.That(tok.Encode("[INST]hello[/INST]", addBos: true, parseSpecial: true), Is.EqualTo(new[] { Bos, Inst, 264, EndInst }));
            var plain = tok.Encode("[INST]", addBos: false);
            Assert.That(plain, Is.EqualTo("[INST]".Select(Byte).ToArray()));
        });
    }

    [TestCase("Hello World", new[] { "Hello", " World" })]
    [TestCase("camelCase", new[] { "camel", "Case" })]
    [TestCase("ÜBER", new[] { "Ü", "BER" })] // llama.cpp counts a non-ASCII letter as both cases
    [TestCase("123", new[] { "1", "2", "3" })]
    [TestCase("a  b", new[] { "a", " ", " b" })]
    [TestCase("x\n\ny", new[] { "x", "\n\n", "y" })]
    [TestCase("a+=b;", new[] { "a", "+=", "b", ";" })]
    public void Pre_tokenizer_splits_like_llama_cpp(string text, string[] words)
    {
        var actual = TekkenPreTokenizer.Split(text).Select(w => text.Substring(w.Start, w.Length));
        Assert.That(actual, Is.EqualTo(words));
    }

    private static MistralTokenizer Trained() =>
        FromBuilt(ByteLevelBpeVocabularyBuilder.Build(MultilingualSamples, mergeCount: 300));

    private static MistralTokenizer FromBuilt((string[] Tokens, int[] Types, string[] Merges) v) => new(new TokenizerVocabulary
    {
        Model = "gpt2",
        PreTokenizer = "tekken",
        Merges = v.Merges,
        Tokens = v.Tokens,
        TokenTypes = v.Types,
        AddSpacePrefix = false,
    });

    private static readonly string[] MultilingualSamples =
    [
        "Bonjour, ça va ? J'espère que oui.",
        "Größere Straßen führen über die Brücke.",
        "¿Dónde está el niño? ¡Mañana!",
        "for (int i = 0; i < n; i++) {\n    sum += a[i];\n}",
        "I ❤️ Rust 🦀 and 👨‍👩‍👧",
        "   leading and  multiple   spaces",
        "3.14159 and 1234567890\r\n\n",
        "Привет, мир! 你好，世界。",
    ];

    [Test]
    public void Decode_of_encode_returns_the_text([ValueSource(nameof(MultilingualSamples))] string text)
    {
        var tok = Trained();
        var ids = tok.Encode(text, addBos: true);
        Assert.That(tok.Decode(ids), Is.EqualTo(text));
        Assert.That(ids.Length, Is.LessThan(Encoding.UTF8.GetByteCount(text) + 1), "merges should shorten the text");
    }

    [Test]
    public void Streaming_never_emits_a_broken_character([ValueSource(nameof(MultilingualSamples))] string text)
    {
        var tok = Trained();
        var ids = tok.Encode(text, addBos: false);
        var detok = tok.CreateStreamingDetokenizer();
        var pieces = ids.Select(detok.Append).Append(detok.Flush()).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(string.Concat(pieces), Is.EqualTo(text));
            Assert.That(pieces, Has.None.Contains('\uFFFD'), "a piece split a UTF-8 sequence");
            // Every piece is whole UTF-16 text (no lone surrogate from a split emoji).
            Assert.That(pieces.Where(p => p.Length > 0).Select(p => char.IsHighSurrogate(p[^1])), Has.None.True);
        });
    }

    [Test]
    public void FromGguf_reads_a_tekken_vocabulary_and_defaults_to_adding_bos()
    {
        using var dir = new Support.TempDir();
        var (tokens, types, merges) = ByteLevelBpeVocabularyBuilder.Build(MultilingualSamples, mergeCount: 50);
        var path = dir.File("tekken.gguf");
        var writer = new GgufWriter();
        writer.Add("general.architecture", "llama");
        writer.Add("tokenizer.ggml.model", "gpt2");
        writer.Add("tokenizer.ggml.pre", "tekken");
        writer.Add("tokenizer.ggml.tokens", tokens);
        writer.Add("tokenizer.ggml.token_type", types);
        writer.Add("tokenizer.ggml.merges", merges);
        writer.Add("tokenizer.ggml.bos_token_id", 1u);
        writer.Add("tokenizer.ggml.eos_token_id", 2u);
        writer.Save(path);

        using var file = GgufFile.Open(path);
        var tok = MistralTokenizer.FromGguf(file);
        Assert.Multiple(() =>
        {
            Assert.That(tok.AddBos, Is.True, "llama.cpp's tekken pre-tokenizer adds BOS when the file does not say");
            Assert.That(tok.AddSpacePrefix, Is.False);
            Assert.That(tok.BosId, Is.EqualTo(1));
            Assert.That(tok.VocabSize, Is.EqualTo(tokens.Length));
            Assert.That(tok.Decode(tok.Encode("Bonjour", addBos: tok.AddBos)), Is.EqualTo("Bonjour"));
        });
    }

    [Test]
    public void Missing_or_malformed_merges_are_clear_errors()
    {
        Assert.Multiple(() =>
        {
            var ex = Assert.Throws<InvalidDataException>(() => _ = new MistralTokenizer(new TokenizerVocabulary
            {
                Model = "gpt2", PreTokenizer = "tekken", Tokens = ["a", "b"], AddSpacePrefix = false, BosId = 0, EosId = 1,
            }));
            Assert.That(ex!.Message, Does.Contain("tokenizer.ggml.merges"));
            ex = Assert.Throws<InvalidDataException>(() => _ = new MistralTokenizer(new TokenizerVocabulary
            {
                Model = "gpt2", PreTokenizer = "tekken", Tokens = ["a", "b"], Merges = ["ab"], AddSpacePrefix = false, BosId = 0, EosId = 1,
            }));
            Assert.That(ex!.Message, Does.Contain("tokenizer.ggml.merges[0]"));
        });
    }
}
