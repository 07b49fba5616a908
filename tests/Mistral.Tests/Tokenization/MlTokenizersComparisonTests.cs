using Google.Protobuf;
using Microsoft.ML.Tokenizers;
using Mistral.Tokenization;
using NUnit.Framework;
using static Mistral.Tests.Tokenization.TestVocabularies;

namespace Mistral.Tests.Tokenization;

/// <summary>
/// The evaluation behind the choice of an own SPM implementation over Microsoft.ML.Tokenizers' LlamaTokenizer
/// (see the remarks on <see cref="MistralTokenizer"/>): the same vocabulary is written as an in-memory
/// SentencePiece ModelProto and both tokenizers encode the same texts.
/// </summary>
[TestFixture]
public sealed class MlTokenizersComparisonTests
{
    // Texts where SentencePiece semantics and llama.cpp semantics coincide.
    private static readonly string[] AgreeingTexts =
    [
        "hello world",
        "abc",
        "hello  world",
        "hello\n12 3",
        "é",
        "😀",
        "Bonjour à tous, ça va très bien !",
        "Grüße aus München",
        "emoji 😀🎉 中文",
    ];

    [TestCaseSource(nameof(AgreeingTexts))]
    public void Ml_tokenizers_agrees_on_ordinary_text(string text)
    {
        var vocab = Small();
        var ours = new MistralTokenizer(vocab);
        var theirs = CreateLlamaTokenizer(vocab);
        Assert.That(theirs.EncodeToIds(text, addBeginningOfSentence: true, addEndOfSentence: false),
            Is.EqualTo(ours.Encode(text, addBos: true)));
    }

    [Test]
    public void Ml_tokenizers_merges_into_control_pieces_like_llama_cpp()
    {
        var vocab = Build(
        [
            ("▁", -1f, TokenType.Normal),
            ("<", -1f, TokenType.Normal),
            ("x", -1f, TokenType.Normal),
            (">", -1f, TokenType.Normal),
            ("<x", -1f, TokenType.Normal),
            ("<x>", 0f, TokenType.Control),
        ]);
        Assert.That(CreateLlamaTokenizer(vocab).EncodeToIds("<x>", addBeginningOfSentence: false, addEndOfSentence: false),
            Is.EqualTo(new MistralTokenizer(vocab).Encode("<x>", addBos: false)));
    }

    // The divergences that keep ML.Tokenizers out of Encode. Each asserts what ML.Tokenizers 2.0.1 does today, so a
    // package update that changes it shows up here.

    [Test]
    public void Divergence_equal_scores_are_not_merged_leftmost_first()
    {
        // "▁▁▁" with "▁▁" (-4): both pairs tie; llama.cpp (and SentencePiece) merge the leftmost: [▁▁, ▁].
        var vocab = Small();
        var ours = new MistralTokenizer(vocab).Encode("  ", addBos: false);
        var theirs = CreateLlamaTokenizer(vocab).EncodeToIds("  ", addBeginningOfSentence: false, addEndOfSentence: false);
        Assert.That(ours, Is.EqualTo(new[] { Id("▁▁"), Id("▁") }));
        Assert.That(theirs, Is.EqualTo(new[] { Id("▁"), Id("▁▁") }));
    }

    [Test]
    public void Divergence_empty_text_gets_no_bos()
    {
        var vocab = Small();
        Assert.That(new MistralTokenizer(vocab).Encode("", addBos: true), Is.EqualTo(new[] { Bos }));
        Assert.That(CreateLlamaTokenizer(vocab).EncodeToIds("", addBeginningOfSentence: true, addEndOfSentence: false), Is.Empty);
    }

    [Test]
    public void Divergence_user_defined_pieces_are_not_split_out_unless_listed_as_special_tokens()
    {
        var vocab = Small();
        var theirs = CreateLlamaTokenizer(vocab).EncodeToIds("hello<ud>world", addBeginningOfSentence: false, addEndOfSentence: false);
        Assert.That(new MistralTokenizer(vocab).Encode("hello<ud>world", addBos: false),
            Is.EqualTo(new[] { Id("▁hello"), Id("<ud>"), Id("▁world") }));
        Assert.That(theirs, Does.Not.Contain(Id("<ud>")));
    }

    [Test]
    public void Divergence_missing_byte_pieces_give_the_byte_value_as_id()
    {
        var vocab = new TokenizerVocabulary { Tokens = ["<unk>", "<s>", "</s>", "▁", "a"], TokenTypes = [2, 3, 3, 1, 1] };
        Assert.That(new MistralTokenizer(vocab).Encode("aé", addBos: false), Is.EqualTo(new[] { 3, 4, Unk, Unk }));
        Assert.That(CreateLlamaTokenizer(vocab).EncodeToIds("aé", addBeginningOfSentence: false, addEndOfSentence: false),
            Is.EqualTo(new[] { 3, 4, 0xC3, 0xA9 }));
    }

    internal static LlamaTokenizer CreateLlamaTokenizer(TokenizerVocabulary vocab)
    {
        using var stream = new MemoryStream(WriteModelProto(vocab));
        return LlamaTokenizer.Create(stream, addBeginOfSentence: vocab.AddBos, addEndOfSentence: vocab.AddEos);
    }

    /// <summary>Writes sentencepiece_model.proto's ModelProto by field number (no generated code needed).</summary>
    internal static byte[] WriteModelProto(TokenizerVocabulary vocab)
    {
        using var output = new MemoryStream();
        var model = new CodedOutputStream(output);
        for (var i = 0; i < vocab.Tokens.Count; i++)
        {
            WriteMessage(model, 1, piece => // repeated SentencePiece pieces = 1
            {
                piece.WriteTag(1, WireFormat.WireType.LengthDelimited);
                piece.WriteString(vocab.Tokens[i]);
                piece.WriteTag(2, WireFormat.WireType.Fixed32);
                piece.WriteFloat(vocab.Scores?[i] ?? 0f);
                piece.WriteTag(3, WireFormat.WireType.Varint);
                piece.WriteEnum(vocab.TokenTypes?[i] ?? 1);
            });
        }
        WriteMessage(model, 2, trainer => // TrainerSpec trainer_spec = 2
        {
            trainer.WriteTag(3, WireFormat.WireType.Varint);
            trainer.WriteEnum(2); // model_type = BPE
            trainer.WriteTag(35, WireFormat.WireType.Varint);
            trainer.WriteBool(true); // byte_fallback
            trainer.WriteTag(40, WireFormat.WireType.Varint);
            trainer.WriteInt32(vocab.UnkId);
            trainer.WriteTag(41, WireFormat.WireType.Varint);
            trainer.WriteInt32(vocab.BosId);
            trainer.WriteTag(42, WireFormat.WireType.Varint);
            trainer.WriteInt32(vocab.EosId);
            trainer.WriteTag(43, WireFormat.WireType.Varint);
            trainer.WriteInt32(vocab.PadId);
        });
        WriteMessage(model, 3, normalizer => // NormalizerSpec normalizer_spec = 3
        {
            normalizer.WriteTag(1, WireFormat.WireType.LengthDelimited);
            normalizer.WriteString("identity");
            normalizer.WriteTag(3, WireFormat.WireType.Varint);
            normalizer.WriteBool(vocab.AddSpacePrefix); // add_dummy_prefix
            normalizer.WriteTag(4, WireFormat.WireType.Varint);
            normalizer.WriteBool(false); // remove_extra_whitespaces
            normalizer.WriteTag(5, WireFormat.WireType.Varint);
            normalizer.WriteBool(true); // escape_whitespaces
        });
        model.Flush();
        return output.ToArray();
    }

    private static void WriteMessage(CodedOutputStream parent, int field, Action<CodedOutputStream> body)
    {
        using var buffer = new MemoryStream();
        var inner = new CodedOutputStream(buffer);
        body(inner);
        inner.Flush();
        parent.WriteTag(field, WireFormat.WireType.LengthDelimited);
        parent.WriteBytes(ByteString.CopyFrom(buffer.ToArray()));
    }
}
