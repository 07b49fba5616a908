using Microsoft.Extensions.Logging;
using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>
/// The llama.* hyper-parameters and the other model metadata as files in the wild store them: counts of any integer
/// type, floats as float64, per-layer arrays, optional keys left out, special ids set to gguf-py's "none". A file
/// llama.cpp loads is loaded; a value that does not fit is refused with its key named.
/// </summary>
[TestFixture]
public class ModelMetadataToleranceTests
{
    private SmallModel _files = null!;
    private TempDir _dir = null!;
    private ModelConfig _original = null!;

    [OneTimeSetUp]
    public void Write()
    {
        _files = new SmallModel();
        _dir = new TempDir();
        using var file = GgufFile.Open(_files.Path);
        _original = ModelConfig.FromGguf(file);
    }

    [OneTimeTearDown]
    public void Delete()
    {
        _files.Dispose();
        _dir.Dispose();
    }

    private string Variant(Func<string, GgufValue, GgufValue?>? metadata = null, Dictionary<string, GgufValue>? add = null)
    {
        var path = _dir.File($"variant-{Guid.NewGuid():N}.gguf");
        GgufRewrite.Copy(_files.Path, path, metadata, addMetadata: add);
        return path;
    }

    private static ModelConfig Config(string path)
    {
        using var file = GgufFile.Open(path);
        return ModelConfig.FromGguf(file);
    }

    private static IEnumerable<TestCaseData> IntegerTypes()
    {
        yield return new TestCaseData(GgufValueType.Int32, (Func<uint, GgufValue>)(v => GgufValue.From((int)v)));
        yield return new TestCaseData(GgufValueType.UInt64, (Func<uint, GgufValue>)(v => GgufValue.From((ulong)v)));
        yield return new TestCaseData(GgufValueType.Int64, (Func<uint, GgufValue>)(v => GgufValue.From((long)v)));
        yield return new TestCaseData(GgufValueType.UInt16, (Func<uint, GgufValue>)(v => GgufValue.From(checked((ushort)v))));
    }

    [TestCaseSource(nameof(IntegerTypes))]
    public void Counts_stored_as_another_integer_type_give_the_same_config(GgufValueType type, Func<uint, GgufValue> convert)
    {
        var path = Variant((k, v) => k.StartsWith("llama.", StringComparison.Ordinal) && v.Type == GgufValueType.UInt32 ? convert(v.AsUInt32()) : v);
        using (var file = GgufFile.Open(path))
            Assert.That(file.Metadata["llama.block_count"].Type, Is.EqualTo(type), "the variant really stores another type");
        Assert.That(Config(path), Is.EqualTo(_original));
    }

    [Test]
    public void Float_keys_stored_as_float64_are_read_and_the_model_runs()
    {
        var path = Variant((k, v) => k switch
        {
            "llama.rope.freq_base" => GgufValue.From(500000.0),
            "llama.attention.layer_norm_rms_epsilon" => GgufValue.From(1e-6),
            _ => v,
        });
        using var model = MistralModel.Load(path, new ModelOptions { Threads = 1 });
        Assert.Multiple(() =>
        {
            Assert.That(model.Config.RopeFreqBase, Is.EqualTo(500000f));
            Assert.That(model.Config.RmsNormEps, Is.EqualTo((float)1e-6));
            Assert.That(model.Generate("the cat", GenerationOptions.Greedy(2)), Is.Not.Null);
        });
    }

    [Test]
    public void Missing_optional_keys_take_llama_cpp_defaults()
    {
        string[] optional = ["llama.attention.head_count_kv", "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
            "llama.rope.dimension_count", "llama.vocab_size", "general.name"];
        var c = Config(Variant((k, v) => optional.Contains(k) ? null : v));
        Assert.Multiple(() =>
        {
            Assert.That(c.KvHeadCount, Is.EqualTo(c.HeadCount), "no head_count_kv: as many KV heads as query heads");
            Assert.That(_original.KvHeadCount, Is.Not.EqualTo(_original.HeadCount), "the original file differs, so the default was applied");
            Assert.That(c.RopeFreqBase, Is.EqualTo(10000f));
            Assert.That(c.RmsNormEps, Is.EqualTo(1e-5f));
            Assert.That(c.HeadDim, Is.EqualTo(c.EmbeddingLength / c.HeadCount));
            Assert.That(c.VocabSize, Is.EqualTo(_original.VocabSize), "no vocab_size: the embedding matrix's rows");
            Assert.That(c.Name, Is.Null);
        });
    }

    private static IEnumerable<TestCaseData> ValuesThatDoNotFit()
    {
        yield return new TestCaseData("llama.block_count", GgufValue.From(1UL << 33)).SetArgDisplayNames("block_count 2^33 as uint64");
        yield return new TestCaseData("llama.context_length", GgufValue.From(-1)).SetArgDisplayNames("context_length -1 as int32");
        yield return new TestCaseData("llama.embedding_length", GgufValue.From(uint.MaxValue)).SetArgDisplayNames("embedding_length 0xFFFFFFFF");
        yield return new TestCaseData("llama.attention.head_count", GgufValue.From(-4L)).SetArgDisplayNames("head_count -4 as int64");
        yield return new TestCaseData("llama.rope.freq_base", GgufValue.From("10000")).SetArgDisplayNames("freq_base as a string");
    }

    [TestCaseSource(nameof(ValuesThatDoNotFit))]
    public void A_value_that_does_not_fit_is_refused_naming_the_key(string key, GgufValue value)
    {
        var path = Variant((k, v) => k == key ? value : v);
        Assert.That(() => Config(path), Throws.InstanceOf<GgufFormatException>().With.Message.Contains(key));
    }

    [Test]
    public void Per_layer_arrays_with_one_value_for_every_layer_are_read()
    {
        var path = Variant((k, v) => k switch
        {
            "llama.attention.head_count" => GgufValue.FromArray(new uint[] { 4, 4 }),
            "llama.attention.head_count_kv" => GgufValue.FromArray(new[] { 2, 2 }),
            "llama.feed_forward_length" => GgufValue.FromArray(new ulong[] { 96, 96 }),
            _ => v,
        });
        Assert.That(Config(path), Is.EqualTo(_original));
    }

    [Test]
    public void Per_layer_arrays_that_differ_or_have_the_wrong_length_are_refused_naming_the_key()
    {
        var differ = Variant((k, v) => k == "llama.feed_forward_length" ? GgufValue.FromArray(new uint[] { 96, 128 }) : v);
        var tooShort = Variant((k, v) => k == "llama.attention.head_count_kv" ? GgufValue.FromArray(new uint[] { 2 }) : v);
        Assert.Multiple(() =>
        {
            Assert.That(() => Config(differ), Throws.InstanceOf<NotSupportedException>().With.Message.Contains("llama.feed_forward_length"));
            Assert.That(() => Config(tooShort), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("llama.attention.head_count_kv"));
        });
    }

    [Test]
    public void A_model_whose_padding_id_is_0xFFFFFFFF_loads_and_logs_it_at_debug_level()
    {
        // The file that started issue 19: llama.cpp's converter writes "no padding token" as -1 in a uint32.
        var path = Variant(add: new() { ["tokenizer.ggml.padding_token_id"] = GgufValue.From(uint.MaxValue) });
        var logger = new RecordingLogger();
        using var model = MistralModel.Load(path, new ModelOptions { Threads = 1, Logger = logger });
        Assert.Multiple(() =>
        {
            Assert.That(model.Tokenizer.PadId, Is.EqualTo(-1));
            Assert.That(logger.Lines, Has.Some.Matches<(LogLevel Level, string Message)>(l =>
                l.Level == LogLevel.Debug && l.Message.Contains("tokenizer.ggml.padding_token_id")));
        });
    }

    [Test]
    public void A_model_without_a_bos_token_is_prompted_without_one()
    {
        var path = Variant((k, v) => k == "tokenizer.ggml.bos_token_id" ? GgufValue.From(-1) : v);
        using var model = MistralModel.Load(path, new ModelOptions { Threads = 1 });
        using var session = model.CreateSession();
        var result = session.Complete("the cat", GenerationOptions.Greedy(1));
        Assert.Multiple(() =>
        {
            Assert.That((model.Tokenizer.BosId, model.Tokenizer.AddBos), Is.EqualTo((-1, false)));
            Assert.That(result.PromptTokenCount, Is.EqualTo(model.Tokenizer.Encode("the cat", addBos: false).Length));
        });
    }

    [Test]
    public void Name_and_chat_template_of_another_type_are_ignored_not_refused()
    {
        var path = Variant((k, v) => k == "general.name" ? GgufValue.From(7u) : v,
            add: new() { ["tokenizer.chat_template"] = GgufValue.From(1u) });
        using var model = MistralModel.Load(path, new ModelOptions { Threads = 1 });
        Assert.Multiple(() =>
        {
            Assert.That(model.Config.Name, Is.Null);
            Assert.That(model.ChatTemplate.Kind, Is.EqualTo(Mistral.Chat.ChatTemplate.Detect(null, model.Tokenizer).Kind), "chosen from the tokenizer, as without a template");
        });
    }
}
