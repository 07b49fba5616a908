using NUnit.Framework;
using Mistral.Tokenization;
using static Mistral.Tests.Tokenization.TestVocabularies;

namespace Mistral.Tests.Tokenization;

[TestFixture]
public sealed class MistralTokenizerTests
{
    private static readonly MistralTokenizer Tok = new(Small());

    [Test]
    public void Properties_come_from_the_vocabulary()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Tok.VocabSize, Is.EqualTo(3 + 256 + SmallPieces.Length));
            Assert.That(Tok.BosId, Is.EqualTo(Bos));
            Assert.That(Tok.EosId, Is.EqualTo(Eos));
            Assert.That(Tok.UnkId, Is.EqualTo(Unk));
            Assert.That(Tok.PadId, Is.EqualTo(-1));
            Assert.That(Tok.AddBos, Is.True);
            Assert.That(Tok.AddEos, Is.False);
            Assert.That(Tok.GetPiece(Id("▁hello")), Is.EqualTo("▁hello"));
            Assert.That(Tok.GetPiece(ByteId(0x0A)), Is.EqualTo("<0x0A>"));
            Assert.That(Tok.IsControl(Bos), Is.True);
            Assert.That(Tok.IsControl(Id("[INST]")), Is.True);
            Assert.That(Tok.IsControl(Id("▁hello")), Is.False);
            Assert.That(Tok.IsControl(Unk), Is.False);
            Assert.That(Tok.TryGetTokenId("[INST]", out var inst) && inst == Id("[INST]"), Is.True);
            Assert.That(Tok.TryGetTokenId("nope", out _), Is.False);
        });
    }

    [Test]
    public void Simple_words_merge_into_whole_pieces()
    {
        // Hand-worked: ▁h(-1) and ▁w(-1) tie, the leftmost goes first; ▁hel and ▁wor tie at -2, ▁hell and
        // ▁world at -2.5, and so on: every word ends as one piece.
        Assert.That(Tok.Encode("hello world", addBos: false), Is.EqualTo(new[] { Id("▁hello"), Id("▁world") }));
        Assert.That(Tok.Encode("hello", addBos: true), Is.EqualTo(new[] { Bos, Id("▁hello") }));
    }

    [Test]
    public void Highest_score_pair_wins_over_leftmost_pair()
    {
        // "▁abc": "ab" (-5) is leftmost, "bc" (-0.5) scores higher; greedy-leftmost would give [▁, ab, c].
        Assert.That(Tok.Encode("abc", addBos: false), Is.EqualTo(new[] { Id("▁"), Id("a"), Id("bc") }));
    }

    [Test]
    public void Leading_spaces_stay_separate_pieces()
    {
        // "▁▁hello": ▁h (-1) beats ▁▁ (-4); afterwards (▁,▁) is stale and "▁▁h…" is not a piece.
        Assert.That(Tok.Encode(" hello", addBos: false), Is.EqualTo(new[] { Id("▁"), Id("▁hello") }));
    }

    [Test]
    public void Multiple_and_trailing_spaces()
    {
        Assert.That(Tok.Encode("hello  world", addBos: false),
            Is.EqualTo(new[] { Id("▁hello"), Id("▁"), Id("▁world") }));
        Assert.That(Tok.Encode("hello ", addBos: false), Is.EqualTo(new[] { Id("▁hello"), Id("▁") }));
        // Prefix plus two spaces: ▁w binds first, the two ▁ before it then pair up as ▁▁.
        Assert.That(Tok.Encode("  world", addBos: false), Is.EqualTo(new[] { Id("▁▁"), Id("▁world") }));
    }

    [Test]
    public void Newlines_and_digits()
    {
        // '\n' is not a piece: byte fallback <0x0A>; '3' is not a piece either.
        Assert.That(Tok.Encode("hello\n12 3", addBos: false), Is.EqualTo(new[]
        {
            Id("▁hello"), ByteId(0x0A), Id("1"), Id("2"), Id("▁"), ByteId(0x33),
        }));
    }

    [Test]
    public void Missing_character_falls_back_to_utf8_bytes()
    {
        Assert.That(Tok.Encode("é", addBos: false), Is.EqualTo(new[] { Id("▁"), ByteId(0xC3), ByteId(0xA9) }));
    }

    [Test]
    public void Four_byte_emoji_falls_back_to_four_bytes()
    {
        // U+1F600 is F0 9F 98 80 in UTF-8 and one symbol (a surrogate pair in .NET).
        Assert.That(Tok.Encode("😀", addBos: false), Is.EqualTo(new[]
        {
            Id("▁"), ByteId(0xF0), ByteId(0x9F), ByteId(0x98), ByteId(0x80),
        }));
    }

    [Test]
    public void Lone_surrogate_is_encoded_as_the_replacement_character()
    {
        Assert.That(Tok.Encode("\uD83D", addBos: false), Is.EqualTo(new[] { Id("▁"), ByteId(0xEF), ByteId(0xBF), ByteId(0xBD) }));
    }

    [Test]
    public void Empty_text()
    {
        Assert.That(Tok.Encode("", addBos: false), Is.Empty);
        Assert.That(Tok.Encode("", addBos: true), Is.EqualTo(new[] { Bos }));
    }

    [Test]
    public void Without_space_prefix_the_text_is_taken_as_is()
    {
        var tok = new MistralTokenizer(Small(addSpacePrefix: false));
        Assert.That(tok.Encode("hello", addBos: false),
            Is.EqualTo(new[] { Id("h"), Id("e"), Id("l"), Id("l"), Id("o") }));
        Assert.That(tok.Encode(" hello", addBos: false), Is.EqualTo(new[] { Id("▁hello") }));
    }

    [Test]
    public void Special_text_is_plain_text_without_parseSpecial()
    {
        // "<", "s", ">" are not pieces; "hello" lost its "▁" so it does not merge either.
        Assert.That(Tok.Encode("<s>hello", addBos: false), Is.EqualTo(new[]
        {
            Id("▁"), ByteId('<'), ByteId('s'), ByteId('>'), Id("h"), Id("e"), Id("l"), Id("l"), Id("o"),
        }));
    }

    [Test]
    public void Special_text_becomes_its_id_with_parseSpecial()
    {
        // llama.cpp puts the space prefix on every fragment that follows a special token.
        Assert.That(Tok.Encode("<s>hello", addBos: false, parseSpecial: true), Is.EqualTo(new[] { Bos, Id("▁hello") }));
        Assert.That(Tok.Encode("[INST]hello[/INST]world</s>", addBos: true, parseSpecial: true), Is.EqualTo(new[]
        {
            Bos, Id("[INST]"), Id("▁hello"), Id("[/INST]"), Id("▁world"), Eos,
        }));
        Assert.That(Tok.Encode("hello <s>", addBos: false, parseSpecial: true),
            Is.EqualTo(new[] { Id("▁hello"), Id("▁"), Bos }));
        Assert.That(Tok.Encode("<unk>", addBos: false, parseSpecial: true), Is.EqualTo(new[] { Unk }));
    }

    [Test]
    public void User_defined_tokens_are_always_split_out()
    {
        var expected = new[] { Id("▁hello"), Id("<ud>"), Id("▁world") };
        Assert.That(Tok.Encode("hello<ud>world", addBos: false), Is.EqualTo(expected));
        Assert.That(Tok.Encode("hello<ud>world", addBos: false, parseSpecial: true), Is.EqualTo(expected));
    }

    [Test]
    public void Longest_special_token_is_split_out_first()
    {
        var vocab = Build(
        [
            ("▁", -1f, TokenType.Normal),
            ("<a>", 0f, TokenType.Control),
            ("<a><b>", 0f, TokenType.Control),
            ("<b>", 0f, TokenType.Control),
        ]);
        var tok = new MistralTokenizer(vocab);
        tok.TryGetTokenId("<a>", out var a);
        tok.TryGetTokenId("<a><b>", out var ab);
        tok.TryGetTokenId("<b>", out var b);
        Assert.That(tok.Encode("<a><a><b><b>", addBos: false, parseSpecial: true), Is.EqualTo(new[] { a, ab, b }));
    }

    [Test]
    public void Merging_can_reach_any_vocabulary_entry_as_in_llama_cpp()
    {
        // llama.cpp merges into whatever piece the text spells, even a control token, when parseSpecial is off.
        var vocab = Build(
        [
            ("▁", -1f, TokenType.Normal),
            ("<", -1f, TokenType.Normal),
            ("x", -1f, TokenType.Normal),
            (">", -1f, TokenType.Normal),
            ("<x", -1f, TokenType.Normal),
            ("<x>", 0f, TokenType.Control),
        ]);
        var tok = new MistralTokenizer(vocab);
        tok.TryGetTokenId("<x>", out var control);
        tok.TryGetTokenId("▁", out var space);
        Assert.That(tok.Encode("<x>", addBos: false), Is.EqualTo(new[] { space, control }));
    }

    [Test]
    public void Missing_byte_token_falls_back_to_unk()
    {
        var tok = new MistralTokenizer(new TokenizerVocabulary
        {
            Tokens = ["<unk>", "<s>", "</s>", "▁", "a"],
            TokenTypes = [2, 3, 3, 1, 1],
        });
        Assert.That(tok.Encode("aé", addBos: false), Is.EqualTo(new[] { 3, 4, 0, 0 }));
    }

    [Test]
    public void Long_input_matches_a_naive_quadratic_reference()
    {
        var rng = new Random(1234);
        const string alphabet = "ab c";
        var pieces = new HashSet<string>(StringComparer.Ordinal);
        while (pieces.Count < 60)
        {
            var len = rng.Next(2, 6);
            pieces.Add(new string(Enumerable.Range(0, len).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray()).Replace(' ', '▁'));
        }
        // Coarse scores so that ties (leftmost rule) happen often.
        var list = pieces.Select(p => (p, (float)-rng.Next(0, 5), TokenType.Normal)).ToList();
        list.AddRange(new[] { ("a", -9f, TokenType.Normal), ("b", -9f, TokenType.Normal), ("▁", -9f, TokenType.Normal) });
        var vocab = Build(list);
        var tok = new MistralTokenizer(vocab);
        for (var trial = 0; trial < 50; trial++)
        {
            var text = new string(Enumerable.Range(0, rng.Next(1, 400)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            Assert.That(tok.Encode(text, addBos: false), Is.EqualTo(NaiveEncode(vocab, text)), text);
        }
    }

    // Repeatedly merges the best adjacent pair (highest score, then leftmost) by scanning all pairs: the textbook
    // definition the priority-queue version must reproduce.
    private static int[] NaiveEncode(TokenizerVocabulary vocab, string text)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < vocab.Tokens.Count; i++)
            ids[vocab.Tokens[i]] = i;
        var symbols = ("▁" + text.Replace(' ', '▁')).Select(c => c.ToString()).ToList();
        while (true)
        {
            var best = -1;
            var bestScore = float.NegativeInfinity;
            for (var i = 0; i + 1 < symbols.Count; i++)
            {
                if (ids.TryGetValue(symbols[i] + symbols[i + 1], out var id) && (best < 0 || vocab.Scores![id] > bestScore))
                {
                    best = i;
                    bestScore = vocab.Scores![id];
                }
            }
            if (best < 0)
                break;
            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }
        return symbols.SelectMany(s => ids.TryGetValue(s, out var id)
            ? [id]
            : System.Text.Encoding.UTF8.GetBytes(s).Select(b => ByteId(b))).ToArray();
    }

    [Test]
    public void Invalid_vocabularies_are_rejected_with_the_key_named()
    {
        Assert.Multiple(() =>
        {
            var ex = Assert.Throws<InvalidDataException>(() => _ = new MistralTokenizer(new TokenizerVocabulary
            {
                Tokens = ["<unk>", "<s>", "</s>"],
                Scores = [0f, 0f],
            }));
            Assert.That(ex!.Message, Does.Contain("tokenizer.ggml.scores"));
            ex = Assert.Throws<InvalidDataException>(() => _ = new MistralTokenizer(new TokenizerVocabulary
            {
                Tokens = ["<unk>", "<s>", "</s>"],
                EosId = 7,
            }));
            Assert.That(ex!.Message, Does.Contain("tokenizer.ggml.eos_token_id"));
            ex = Assert.Throws<InvalidDataException>(() => _ = new MistralTokenizer(new TokenizerVocabulary
            {
                Tokens = ["<unk>", "<s>", "</s>"],
                TokenTypes = [2, 3, 9],
            }));
            Assert.That(ex!.Message, Does.Contain("tokenizer.ggml.token_type"));
            var nse = Assert.Throws<NotSupportedException>(() => _ = new MistralTokenizer(new TokenizerVocabulary
            {
                Tokens = ["<unk>", "<s>", "</s>"],
                Model = "bert",
            }));
            Assert.That(nse!.Message, Does.Contain("\"bert\""));
            // Byte-level BPE is supported with Tekken's pre-tokenizer only.
            nse = Assert.Throws<NotSupportedException>(() => _ = new MistralTokenizer(new TokenizerVocabulary
            {
                Tokens = ["<unk>", "<s>", "</s>"],
                Model = "gpt2",
                PreTokenizer = "qwen2",
                Merges = [],
            }));
            Assert.That(nse!.Message, Does.Contain("\"qwen2\"").And.Contain("tekken"));
        });
    }

    [Test]
    public void Decode_renders_pieces_spaces_and_bytes()
    {
        int[] ids = [Bos, Id("▁hello"), Id("▁world"), ByteId(0xC3), ByteId(0xA9), Eos];
        Assert.Multiple(() =>
        {
            Assert.That(Tok.Decode(ids), Is.EqualTo("hello worldé"));
            Assert.That(Tok.Decode(ids, renderSpecial: true), Is.EqualTo("<s>hello worldé</s>"));
            // An invalid byte sequence is replaced, not dropped.
            Assert.That(Tok.Decode([Id("▁hello"), ByteId(0xC3)]), Is.EqualTo("hello\uFFFD"));
            Assert.That(Tok.Decode([Id("[unused]"), Id("▁hello")]), Is.EqualTo("hello"));
            Assert.That(Tok.Decode([]), Is.EqualTo(""));
            Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([Tok.VocabSize]));
        });
    }

    private static readonly string[] Samples =
    [
        "hello world",
        "Bonjour à tous, ça va très bien ! L'été est là.",
        "Grüße aus München: Äpfel, Öl und Übermut — straße.",
        "¿Dónde está la biblioteca? ¡Mañana, señor!",
        "public static int Add(int a, int b)\n{\n\treturn a + b; // sum\n}\r\n",
        "emoji 😀🎉 and 👩‍💻 mixed with 中文 and العربية",
        "  leading spaces, trailing spaces   ",
        "a\n\nb",
    ];

    [TestCaseSource(nameof(Samples))]
    public void Decode_round_trips_encode(string text)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Tok.Decode(Tok.Encode(text, addBos: true)), Is.EqualTo(text));
            Assert.That(Tok.Decode(Tok.Encode(text, addBos: false)), Is.EqualTo(text));
        });
    }

    [Test]
    public void Decode_round_trips_special_tokens_when_both_flags_are_set()
    {
        const string text = "[INST]hello world[/INST] hello</s>";
        Assert.That(Tok.Decode(Tok.Encode(text, addBos: false, parseSpecial: true), renderSpecial: true), Is.EqualTo(text));
        Assert.That(Tok.Decode(Tok.Encode("a<ud>b", addBos: false)), Is.EqualTo("a<ud>b"));
    }

    [Test]
    public void Streaming_holds_back_a_split_emoji_until_its_last_byte()
    {
        var ids = Tok.Encode("😀", addBos: true);
        var stream = Tok.CreateStreamingDetokenizer();
        var outputs = ids.Select(stream.Append).ToList();
        Assert.That(outputs, Is.EqualTo(new[] { "", "", "", "", "", "😀" }));
        Assert.That(stream.Flush(), Is.EqualTo(""));
    }

    [Test]
    public void Streaming_flush_replaces_an_incomplete_character()
    {
        var stream = Tok.CreateStreamingDetokenizer();
        Assert.That(stream.Append(ByteId(0xF0)), Is.EqualTo(""));
        Assert.That(stream.Append(ByteId(0x9F)), Is.EqualTo(""));
        Assert.That(stream.Flush(), Is.EqualTo("\uFFFD"));
        // After Flush the detokenizer starts over, leading-space rule included.
        Assert.That(stream.Append(Id("▁hello")), Is.EqualTo("hello"));
    }

    [TestCaseSource(nameof(Samples))]
    public void Streaming_output_equals_decode(string text)
    {
        var ids = Tok.Encode(text, addBos: true);
        var stream = Tok.CreateStreamingDetokenizer();
        var streamed = string.Concat(ids.Select(stream.Append)) + stream.Flush();
        Assert.That(streamed, Is.EqualTo(Tok.Decode(ids)));
    }

    [Test]
    public void Streaming_output_equals_decode_on_random_ids()
    {
        // Random ids include broken byte sequences, specials and unused tokens.
        var rng = new Random(42);
        for (var trial = 0; trial < 300; trial++)
        {
            var ids = Enumerable.Range(0, rng.Next(0, 30)).Select(_ => rng.Next(Tok.VocabSize)).ToArray();
            foreach (var render in new[] { false, true })
            {
                var stream = Tok.CreateStreamingDetokenizer(render);
                var streamed = string.Concat(ids.Select(stream.Append)) + stream.Flush();
                Assert.That(streamed, Is.EqualTo(Tok.Decode(ids, render)), string.Join(",", ids));
            }
        }
    }
}
