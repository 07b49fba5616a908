using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>A model file that is valid GGUF but wrong as a model gets a clear exception naming what is wrong.</summary>
[TestFixture]
public class ModelLoadTests
{
    private SmallModel _files = null!;
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void Write()
    {
        _files = new SmallModel();
        _dir = new TempDir();
    }

    [OneTimeTearDown]
    public void Delete()
    {
        _files.Dispose();
        _dir.Dispose();
    }

    private string Variant(string name, Func<string, GgufValue, GgufValue?>? metadata = null,
        GgufRewrite.TensorEdit? tensors = null, Dictionary<string, GgufValue>? add = null)
    {
        var path = _dir.File(name + ".gguf");
        GgufRewrite.Copy(_files.Path, path, metadata, tensors, add);
        return path;
    }

    [Test]
    public void A_missing_file_is_file_not_found() =>
        Assert.That(() => MistralModel.Load(_dir.File("absent.gguf")), Throws.InstanceOf<FileNotFoundException>());

    [Test]
    public void Config_is_read_from_the_metadata()
    {
        using var model = _files.Load();
        var c = model.Config;
        Assert.That((c.Architecture, c.VocabSize, c.EmbeddingLength, c.LayerCount, c.HeadCount, c.KvHeadCount, c.HeadDim, c.FeedForwardLength),
            Is.EqualTo(("llama", 400, 64, 2, 4, 2, 16, 96)));
        Assert.That(c.RopeFreqBase, Is.EqualTo(10000f));
    }

    [Test]
    public void A_missing_tensor_is_named()
    {
        var path = Variant("no-ffn-up", tensors: (t, d) => t.Name == "blk.1.ffn_up.weight" ? null : (t.Type, t.Dimensions, d));
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("blk.1.ffn_up.weight"));
    }

    [Test]
    public void An_unsupported_tensor_type_is_named_with_the_tensor()
    {
        // Same bytes relabelled as IQ4_NL (also 18-byte blocks of 32): a type this version does not run.
        var path = Variant("iq4nl", tensors: (t, d) => t.Name == "blk.0.attn_k.weight"
            ? (GgmlType.IQ4_NL, t.Dimensions, GgmlQuantization.Quantize(GgmlType.Q4_0, new float[t.ElementCount]))
            : (t.Type, t.Dimensions, d));
        Assert.That(() => MistralModel.Load(path),
            Throws.InstanceOf<NotSupportedException>().With.Message.Contains("blk.0.attn_k.weight").And.Message.Contains("IQ4_NL"));
    }

    [Test]
    public void A_tensor_whose_shape_contradicts_the_config_is_refused_naming_the_tensor_and_the_keys()
    {
        // attn_q as [64, 32] instead of [64, 64]: valid GGUF, wrong model. (The native core checks the same on its own
        // table: native/tests/test_abi.c.)
        var path = Variant("bad-shape", tensors: (t, d) => t.Name == "blk.0.attn_q.weight"
            ? (t.Type, new long[] { 64, 32 }, d[..(d.Length / 2)])
            : (t.Type, t.Dimensions, d));
        var ex = Assert.Throws<GgufFormatException>(() => MistralModel.Load(path));
        Assert.That(ex!.Message, Does.Contain("'blk.0.attn_q.weight' has shape [64, 32]").And.Contain("llama.attention.head_count 4"));
    }

    [Test]
    public void Another_architecture_is_not_supported_and_says_which()
    {
        var path = Variant("gemma", metadata: (k, v) => k == "general.architecture" ? GgufValue.From("gemma") : v);
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<NotSupportedException>().With.Message.Contains("gemma"));
    }

    [Test]
    public void A_mixture_of_experts_file_loads_and_reports_its_experts()
    {
        using var tiny = Models.TinyModelFactory.Create(Models.TinyModelSpec.Odd().WithExperts(4, 2));
        using var model = MistralModel.Load(tiny.Path);
        Assert.That((model.Config.ExpertCount, model.Config.ExpertUsedCount), Is.EqualTo((4, 2)));
    }

    [Test]
    public void Mixture_of_experts_metadata_on_a_dense_file_is_refused_naming_the_contradiction()
    {
        // expert_count says MoE, but the file has dense ffn_gate/up/down and no router or stacked experts.
        var path = Variant("moe", add: new() { ["llama.expert_count"] = GgufValue.From(8u), ["llama.expert_used_count"] = GgufValue.From(2u) });
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<GgufFormatException>()
            .With.Message.Contains("'blk.0.ffn_gate.weight' is a dense feed-forward matrix").And.Message.Contains("llama.expert_count = 8"));
    }

    [TestCase(0u)]
    [TestCase(9u)]
    public void An_expert_used_count_outside_1_to_expert_count_is_refused(uint used)
    {
        var path = Variant("moe-used", add: new() { ["llama.expert_count"] = GgufValue.From(8u), ["llama.expert_used_count"] = GgufValue.From(used) });
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("expert_used_count"));
    }

    [Test]
    public void A_file_with_one_tensor_per_expert_is_refused_naming_the_tensors()
    {
        using var tiny = Models.TinyModelFactory.Create(Models.TinyModelSpec.Odd().WithExperts(4, 2) with { SplitExperts = true });
        Assert.That(() => MistralModel.Load(tiny.Path), Throws.InstanceOf<NotSupportedException>()
            .With.Message.Contains("blk.0.ffn_gate.0.weight").And.Message.Contains("ffn_gate_exps"));
    }

    [Test]
    public void Inconsistent_heads_are_refused_naming_the_keys()
    {
        var path = Variant("heads", metadata: (k, v) => k == "llama.attention.head_count_kv" ? GgufValue.From(3u) : v);
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("head_count_kv"));
    }

    [Test]
    public void A_missing_required_key_is_named()
    {
        var path = Variant("no-blocks", metadata: (k, v) => k == "llama.block_count" ? null : v);
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("llama.block_count"));
    }

    [Test]
    public void A_tokenizer_that_disagrees_with_the_vocabulary_size_is_refused()
    {
        var path = Variant("vocab", metadata: (k, v) => k == "llama.vocab_size" ? GgufValue.From(500u) : v);
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("500"));
    }

    [Test]
    public void A_garbage_file_is_a_format_error_not_a_crash()
    {
        var path = _dir.File("garbage.gguf");
        File.WriteAllBytes(path, [.. "not a gguf file at all"u8]);
        Assert.That(() => MistralModel.Load(path), Throws.InstanceOf<GgufFormatException>());
    }
}
