using Microsoft.Extensions.Logging;
using Mistral.Gguf;
using Mistral.Tests.Models;
using Mistral.Tests.Support;
using Mistral.Tokenization;

namespace Mistral.Tests.Tokenization;

/// <summary>
/// tokenizer.ggml.* metadata the way converted files in the wild store it: special ids of any integer type, "none"
/// written as 0xFFFFFFFF or -1, token types and scores of other element types, optional keys left out. Whatever
/// llama.cpp loads, <see cref="MistralTokenizer.FromGguf(GgufFile, ILogger?)"/> loads; what it refuses is refused
/// with the key named.
/// </summary>
[TestFixture]
public sealed class GgufTokenizerMetadataTests
{
    private const int VocabSize = 300;
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateDirectory() => _dir = new TempDir();

    [OneTimeTearDown]
    public void DeleteDirectory() => _dir.Dispose();

    /// <summary>
    /// Writes a tokenizer-only GGUF: the SPM vocabulary of the tiny models with BOS 1, EOS 2, UNK 0 and add_bos, as
    /// the converter writes them, after applying <paramref name="edits"/> (a null value removes the key).
    /// </summary>
    private MistralTokenizer Load(Dictionary<string, GgufValue?> edits, ILogger? logger = null)
    {
        var (tokens, scores, types) = TinyModelFactory.BuildVocabulary(VocabSize);
        var metadata = new Dictionary<string, GgufValue?>
        {
            ["general.architecture"] = GgufValue.From("llama"),
            ["tokenizer.ggml.model"] = GgufValue.From("llama"),
            ["tokenizer.ggml.tokens"] = GgufValue.FromArray(tokens),
            ["tokenizer.ggml.scores"] = GgufValue.FromArray(scores),
            ["tokenizer.ggml.token_type"] = GgufValue.FromArray(types),
            ["tokenizer.ggml.bos_token_id"] = GgufValue.From(1u),
            ["tokenizer.ggml.eos_token_id"] = GgufValue.From(2u),
            ["tokenizer.ggml.unknown_token_id"] = GgufValue.From(0u),
            ["tokenizer.ggml.add_bos_token"] = GgufValue.From(true),
        };
        foreach (var (key, value) in edits) metadata[key] = value;

        var writer = new GgufWriter();
        foreach (var (key, value) in metadata)
            if (value is not null) writer.Add(key, value);
        var path = _dir.File($"tok-{Guid.NewGuid():N}.gguf");
        writer.Save(path);
        using var file = GgufFile.Open(path);
        return MistralTokenizer.FromGguf(file, logger);
    }

    [Test]
    public void A_padding_id_of_0xFFFFFFFF_means_no_padding_token_and_is_logged_at_debug_level()
    {
        var logger = new RecordingLogger();
        var tok = Load(new() { ["tokenizer.ggml.padding_token_id"] = GgufValue.From(uint.MaxValue) }, logger);
        Assert.Multiple(() =>
        {
            Assert.That(tok.PadId, Is.EqualTo(-1));
            Assert.That(tok.BosId, Is.EqualTo(1), "the other ids are unaffected");
            Assert.That(logger.Lines, Has.Some.Matches<(LogLevel Level, string Message)>(l =>
                l.Level == LogLevel.Debug && l.Message.Contains("tokenizer.ggml.padding_token_id") && l.Message.Contains("4294967295")));
        });
    }

    [Test]
    public void An_int32_minus_one_id_means_the_token_is_absent()
    {
        // Without the key the SPM default UNK is 0, so -1 must have been read, not defaulted.
        var tok = Load(new()
        {
            ["tokenizer.ggml.unknown_token_id"] = GgufValue.From(-1),
            ["tokenizer.ggml.padding_token_id"] = GgufValue.From(-1),
        });
        Assert.That((tok.UnkId, tok.PadId), Is.EqualTo((-1, -1)));
    }

    private static IEnumerable<TestCaseData> IdsOfEveryIntegerType()
    {
        yield return new TestCaseData(GgufValue.From((byte)7)).SetArgDisplayNames("uint8");
        yield return new TestCaseData(GgufValue.From((sbyte)7)).SetArgDisplayNames("int8");
        yield return new TestCaseData(GgufValue.From((ushort)7)).SetArgDisplayNames("uint16");
        yield return new TestCaseData(GgufValue.From((short)7)).SetArgDisplayNames("int16");
        yield return new TestCaseData(GgufValue.From(7)).SetArgDisplayNames("int32");
        yield return new TestCaseData(GgufValue.From(7UL)).SetArgDisplayNames("uint64");
        yield return new TestCaseData(GgufValue.From(7L)).SetArgDisplayNames("int64");
    }

    [TestCaseSource(nameof(IdsOfEveryIntegerType))]
    public void An_id_of_any_integer_type_is_read(GgufValue eos)
    {
        var tok = Load(new() { ["tokenizer.ggml.eos_token_id"] = eos });
        Assert.That(tok.EosId, Is.EqualTo(7));
    }

    [TestCase((ulong)VocabSize)]
    [TestCase(1UL << 40)]
    public void A_bos_id_past_the_vocabulary_means_no_bos_and_prompts_get_none(ulong bos)
    {
        var logger = new RecordingLogger();
        var tok = Load(new() { ["tokenizer.ggml.bos_token_id"] = GgufValue.From(bos) }, logger);
        Assert.Multiple(() =>
        {
            Assert.That(tok.BosId, Is.EqualTo(-1));
            Assert.That(tok.AddBos, Is.False, "add_bos_token is true in the file, but there is no BOS to add");
            Assert.That(tok.Encode("hello", tok.AddBos), Is.EqualTo(tok.Encode("hello", addBos: false)));
            Assert.That(logger.Lines.Select(l => l.Message), Has.Some.Contains("tokenizer.ggml.bos_token_id")
                .And.Some.Contains("add_bos_token"));
        });
    }

    [Test]
    public void An_eos_id_of_0xFFFFFFFF_means_no_eos_and_no_add_eos()
    {
        var tok = Load(new()
        {
            ["tokenizer.ggml.eos_token_id"] = GgufValue.From(uint.MaxValue),
            ["tokenizer.ggml.add_eos_token"] = GgufValue.From(true),
        });
        Assert.That((tok.EosId, tok.AddEos), Is.EqualTo((-1, false)));
    }

    [Test]
    public void An_id_that_is_not_an_integer_is_refused_naming_the_key()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => Load(new() { ["tokenizer.ggml.bos_token_id"] = GgufValue.From("1") }),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains("tokenizer.ggml.bos_token_id"));
            Assert.That(() => Load(new() { ["tokenizer.ggml.padding_token_id"] = GgufValue.From(-1f) }),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains("tokenizer.ggml.padding_token_id"));
        });
    }

    private static IEnumerable<TestCaseData> TokenTypesOfEveryIntegerType()
    {
        var (_, _, types) = TinyModelFactory.BuildVocabulary(VocabSize);
        yield return new TestCaseData(GgufValue.FromArray(types.Select(t => (sbyte)t).ToArray())).SetArgDisplayNames("int8");
        yield return new TestCaseData(GgufValue.FromArray(types.Select(t => (byte)t).ToArray())).SetArgDisplayNames("uint8");
        yield return new TestCaseData(GgufValue.FromArray(types.Select(t => (short)t).ToArray())).SetArgDisplayNames("int16");
        yield return new TestCaseData(GgufValue.FromArray(types.Select(t => (uint)t).ToArray())).SetArgDisplayNames("uint32");
        yield return new TestCaseData(GgufValue.FromArray(types.Select(t => (long)t).ToArray())).SetArgDisplayNames("int64");
    }

    [TestCaseSource(nameof(TokenTypesOfEveryIntegerType))]
    public void Token_types_of_any_integer_element_type_are_read(GgufValue types)
    {
        var tok = Load(new() { ["tokenizer.ggml.token_type"] = types });
        Assert.Multiple(() =>
        {
            Assert.That(tok.GetTokenType(0), Is.EqualTo(TokenType.Unknown));
            Assert.That(tok.GetTokenType(1), Is.EqualTo(TokenType.Control));
            Assert.That(tok.GetTokenType(3), Is.EqualTo(TokenType.Byte));
            Assert.That(tok.GetTokenType(TinyModelFactory.FirstNormalId), Is.EqualTo(TokenType.Normal));
        });
    }

    [Test]
    public void A_token_type_that_does_not_fit_is_refused_naming_the_key()
    {
        var types = new long[VocabSize];
        Array.Fill(types, 1L);
        types[5] = 1L << 40;
        Assert.That(() => Load(new() { ["tokenizer.ggml.token_type"] = GgufValue.FromArray(types) }),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("tokenizer.ggml.token_type"));
    }

    [Test]
    public void Scores_stored_as_float64_are_read()
    {
        var scores = Enumerable.Range(0, VocabSize).Select(i => -0.25 * i).ToArray();
        var tok = Load(new() { ["tokenizer.ggml.scores"] = GgufValue.FromArray(scores) });
        Assert.That(tok.GetScore(VocabSize - 1), Is.EqualTo((float)(-0.25 * (VocabSize - 1))));
    }

    [Test]
    public void Missing_optional_keys_take_llama_cpp_defaults()
    {
        var tok = Load(new()
        {
            ["tokenizer.ggml.scores"] = null,
            ["tokenizer.ggml.token_type"] = null,
            ["tokenizer.ggml.bos_token_id"] = null,
            ["tokenizer.ggml.eos_token_id"] = null,
            ["tokenizer.ggml.unknown_token_id"] = null,
            ["tokenizer.ggml.add_bos_token"] = null,
        });
        Assert.Multiple(() =>
        {
            // llama.cpp's SentencePiece defaults: BOS 1, EOS 2, UNK 0, no padding, add BOS, space prefix, no EOS.
            Assert.That((tok.BosId, tok.EosId, tok.UnkId, tok.PadId), Is.EqualTo((1, 2, 0, -1)));
            Assert.That((tok.AddBos, tok.AddEos, tok.AddSpacePrefix), Is.EqualTo((true, false, true)));
            Assert.That(tok.GetScore(TinyModelFactory.FirstNormalId), Is.Zero);
            Assert.That(tok.GetTokenType(1), Is.EqualTo(TokenType.Normal));
        });
    }

    [Test]
    public void A_default_id_outside_a_tiny_vocabulary_is_absent_rather_than_an_error()
    {
        var tok = Load(new()
        {
            ["tokenizer.ggml.tokens"] = GgufValue.FromArray(new[] { "a", "b" }),
            ["tokenizer.ggml.scores"] = null,
            ["tokenizer.ggml.token_type"] = null,
            ["tokenizer.ggml.bos_token_id"] = null,
            ["tokenizer.ggml.eos_token_id"] = null,
            ["tokenizer.ggml.unknown_token_id"] = null,
        });
        Assert.That((tok.BosId, tok.EosId, tok.UnkId), Is.EqualTo((1, -1, 0)), "EOS defaults to 2, past the two tokens");
    }

    [Test]
    public void Flags_stored_as_integer_0_or_1_are_read_and_other_values_refused_naming_the_key()
    {
        var tok = Load(new()
        {
            ["tokenizer.ggml.add_bos_token"] = GgufValue.From((byte)0),
            ["tokenizer.ggml.add_space_prefix"] = GgufValue.From(0),
            ["tokenizer.ggml.add_eos_token"] = GgufValue.From(1u),
        });
        Assert.Multiple(() =>
        {
            Assert.That((tok.AddBos, tok.AddSpacePrefix, tok.AddEos), Is.EqualTo((false, false, true)));
            Assert.That(() => Load(new() { ["tokenizer.ggml.add_bos_token"] = GgufValue.From(2u) }),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains("tokenizer.ggml.add_bos_token"));
        });
    }
}
