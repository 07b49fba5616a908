using System.Diagnostics;
using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// Files whose hyper-parameters or tensor list contradict each other: each is refused with a typed exception that
/// names the key or tensor at fault, in this process (a test run that aborted would not finish), and no file runs
/// with a tensor or layer silently left out. The cases come from a hostile-input campaign that found a process
/// abort (embedding_length 2^30 sized a buffer before any shape was checked), files running with a layer dropped,
/// and a corrupted head count reported as "partial RoPE".
/// </summary>
[TestFixture]
public class HostileModelFileTests
{
    private SmallModel _model = null!; // 2 layers, 64 wide, 4 heads of 16, 2 KV heads, FFN 96, vocabulary 400
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void Write()
    {
        _model = new SmallModel(GgmlType.Q8_0, contextLength: 64);
        _dir = new TempDir();
    }

    [OneTimeTearDown]
    public void Delete()
    {
        _model.Dispose();
        _dir.Dispose();
    }

    private string Variant(Func<string, GgufValue, GgufValue?>? metadata = null, GgufRewrite.TensorEdit? tensors = null,
        Dictionary<string, GgufValue>? add = null, IEnumerable<(string Name, GgmlType Type, long[] Dims, byte[] Data)>? extra = null)
    {
        var path = _dir.File($"variant-{Guid.NewGuid():N}.gguf");
        GgufRewrite.Copy(_model.Path, path, metadata, tensors, add, extra);
        return path;
    }

    private static Exception LoadFails(string path)
    {
        try
        {
            using var model = MistralModel.Load(path, new ModelOptions { Threads = 1, ContextLength = 32 });
        }
        catch (Exception ex)
        {
            Assert.That(ex, Is.InstanceOf<GgufFormatException>().Or.InstanceOf<NotSupportedException>(),
                $"a bad file must be a GgufFormatException or NotSupportedException, not {ex.GetType().Name}: {ex.Message}");
            return ex;
        }
        Assert.Fail("the file was accepted");
        throw new UnreachableException();
    }

    private static readonly uint[] HugeValues = [1u << 16, 1u << 28, 1u << 30, int.MaxValue, uint.MaxValue];

    private static readonly string[] Counts =
    [
        "llama.embedding_length", "llama.block_count", "llama.attention.head_count", "llama.attention.head_count_kv",
        "llama.feed_forward_length", "llama.attention.key_length", "llama.attention.value_length",
        "llama.rope.dimension_count", "llama.vocab_size", "llama.expert_count", "llama.expert_used_count",
    ];

    private static IEnumerable<TestCaseData> HugeHyperParameters() =>
        from key in Counts from value in HugeValues select new TestCaseData(key, value).SetArgDisplayNames(key, value.ToString());

    [TestCaseSource(nameof(HugeHyperParameters))]
    public void A_huge_hyper_parameter_is_refused_naming_its_key(string key, uint value)
    {
        var path = HasKey(_model.Path, key)
            ? Variant(metadata: (k, v) => k == key ? GgufValue.From(value) : v)
            : Variant(add: new() { [key] = GgufValue.From(value) });
        var ex = LoadFails(path);
        Assert.That(ex.Message, Does.Contain(key[(key.IndexOf('.') + 1)..]), "the message names the key");
    }

    [TestCase("llama.context_length")]
    [TestCase("llama.attention.sliding_window")]
    public void A_huge_length_the_core_sizes_nothing_from_still_loads_and_runs(string key)
    {
        // The trained context and the window bound nothing at load: sessions size their cache from their own length.
        var path = Variant(metadata: (k, v) => k == key ? GgufValue.From((uint)int.MaxValue) : v, add: HasKey(_model.Path, key) ? null : new() { [key] = GgufValue.From((uint)int.MaxValue) });
        using var model = MistralModel.Load(path, new ModelOptions { Threads = 1, ContextLength = 32 });
        Assert.That(model.Generate("ab", GenerationOptions.Greedy(3)), Is.Not.Null);
    }

    [Test]
    public void A_consistent_but_huge_embedding_length_is_refused_by_the_tensor_shapes_before_any_allocation()
    {
        // 2^30 wide with key_length 16: head_count × head dim still matches blk.0.attn_q's 64 rows, so only the
        // tensors' columns contradict it. This file used to abort the process (a 12 GB norm buffer).
        var path = Variant(metadata: (k, v) => k == "llama.embedding_length" ? GgufValue.From(1u << 30) : v,
            add: new() { ["llama.attention.key_length"] = GgufValue.From(16u) });
        var ex = LoadFails(path);
        Assert.That(ex, Is.InstanceOf<GgufFormatException>());
        Assert.That(ex.Message, Does.Contain("embedding_length 1073741824").And.Contain("token_embd.weight").Or.Contain("attn_q.weight"));
    }

    [Test]
    public void A_corrupted_head_count_is_named_as_such_not_as_partial_rope()
    {
        // 8 heads of 64/8 = 8 would make rope.dimension_count (16) look like partial RoPE; the Q tensor says otherwise.
        var path = Variant(metadata: (k, v) => k == "llama.attention.head_count" ? GgufValue.From(8u) : v,
            add: HasKey(_model.Path, "llama.rope.dimension_count") ? null : new() { ["llama.rope.dimension_count"] = GgufValue.From(16u) });
        var ex = LoadFails(path);
        Assert.That(ex, Is.InstanceOf<GgufFormatException>());
        Assert.That(ex.Message, Does.Contain("attention.head_count 8").And.Contain("'blk.0.attn_").And.Not.Contain("partial RoPE"));
    }

    [Test]
    public void A_block_count_below_the_layers_present_is_refused_naming_the_stray_layer()
    {
        var path = Variant(metadata: (k, v) => k == "llama.block_count" ? GgufValue.From(1u) : v);
        var ex = LoadFails(path);
        Assert.That(ex.Message, Does.Contain("blk.1.").And.Contain("block_count is 1"));
    }

    [Test]
    public void A_block_count_above_the_layers_present_is_refused_naming_the_missing_tensor()
    {
        var path = Variant(metadata: (k, v) => k == "llama.block_count" ? GgufValue.From(3u) : v);
        var ex = LoadFails(path);
        Assert.That(ex.Message, Does.Contain("blk.2."));
    }

    [Test]
    public void A_stray_layer_tensor_past_block_count_is_refused()
    {
        var path = Variant(extra: [("blk.7.attn_norm.weight", GgmlType.F32, [64], new byte[64 * 4])]);
        var ex = LoadFails(path);
        Assert.That(ex.Message, Does.Contain("'blk.7.attn_norm.weight'").And.Contain("block_count is 2"));
    }

    [TestCase("mystery.weight", typeof(GgufFormatException))]
    [TestCase("blk.0.attn_gizmo.weight", typeof(GgufFormatException))]
    [TestCase("blk.0.attn_q.bias", typeof(NotSupportedException))]
    [TestCase("rope_freqs.weight", typeof(NotSupportedException))]
    public void A_tensor_the_model_would_not_use_is_refused_by_name(string name, Type expected)
    {
        var path = Variant(extra: [(name, GgmlType.F32, [64], new byte[64 * 4])]);
        var ex = LoadFails(path);
        Assert.That(ex, Is.InstanceOf(expected));
        Assert.That(ex.Message, Does.Contain($"'{name}'"));
    }

    [Test]
    public void An_expert_tensor_in_a_dense_model_is_refused()
    {
        var path = Variant(extra: [("blk.0.ffn_gate_inp.weight", GgmlType.F32, [64, 4], new byte[64 * 4 * 4])]);
        var ex = LoadFails(path);
        Assert.That(ex.Message, Does.Contain("'blk.0.ffn_gate_inp.weight'").And.Contain("expert_count"));
    }

    [Test]
    public void A_tensor_whose_shape_contradicts_a_key_names_both()
    {
        var path = Variant(metadata: (k, v) => k == "llama.feed_forward_length" ? GgufValue.From(128u) : v);
        var ex = LoadFails(path);
        Assert.That(ex.Message, Does.Contain("feed_forward_length 128").And.Contain("blk.0.ffn_gate.weight"));
    }

    private static bool HasKey(string path, string key)
    {
        using var file = GgufFile.Open(path);
        return file.TryGetValue(key, out _);
    }
}
