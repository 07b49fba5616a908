using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Gguf;

/// <summary>The synthetic writer's Q4_K_M mix: the types land on the right tensors and the file runs.</summary>
[TestFixture]
public sealed class SyntheticKQuantMixTests
{
    [TestCase(2, new[] { 1 })] // 7·2/8 = 1 in integer division: the last of 2 layers gets more bits
    [TestCase(3, new[] { 2 })]
    [TestCase(32, new[] { 0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31 })]
    public void Q4_K_M_more_bits_layers_follow_llama_quantize_integer_division(int layers, int[] moreBits)
    {
        SyntheticModelSpec spec = new SyntheticModelSpec { LayerCount = layers }.WithQ4_K_M_Mix();
        for (int layer = 0; layer < layers; layer++)
        {
            GgmlType expected = moreBits.Contains(layer) ? GgmlType.Q6_K : GgmlType.Q4_K;
            Assert.That(spec.TypeOf($"blk.{layer}.attn_v.weight"), Is.EqualTo(expected), $"layer {layer} of {layers} attn_v");
            Assert.That(spec.TypeOf($"blk.{layer}.ffn_down.weight"), Is.EqualTo(expected), $"layer {layer} of {layers} ffn_down");
        }
    }

    [Test]
    public void Q4_K_M_mix_puts_Q6_K_on_output_and_the_more_bits_layers_and_loads()
    {
        // 8 layers: an eighth is 1 layer, so layers 0 and 7 plus every third between (3, 6) get Q6_K attn_v/ffn_down.
        SyntheticModelSpec spec = new SyntheticModelSpec
        {
            VocabSize = 300,
            EmbeddingLength = 256,
            LayerCount = 8,
            HeadCount = 4,
            KvHeadCount = 2,
            FeedForwardLength = 512,
            ContextLength = 64,
        }.WithQ4_K_M_Mix();
        using var dir = new TempDir();
        string path = dir.File("q4km.gguf");
        SyntheticModel.Write(path, spec);

        int[] moreBits = [0, 3, 6, 7];
        using (GgufFile file = GgufFile.Open(path))
        {
            Dictionary<string, GgmlType> types = file.Tensors.ToDictionary(t => t.Name, t => t.Type);
            Assert.That(types["token_embd.weight"], Is.EqualTo(GgmlType.Q4_K));
            Assert.That(types["output.weight"], Is.EqualTo(GgmlType.Q6_K));
            Assert.That(types["output_norm.weight"], Is.EqualTo(GgmlType.F32));
            for (int layer = 0; layer < 8; layer++)
            {
                GgmlType expected = moreBits.Contains(layer) ? GgmlType.Q6_K : GgmlType.Q4_K;
                Assert.That(types[$"blk.{layer}.attn_v.weight"], Is.EqualTo(expected), $"layer {layer} attn_v");
                Assert.That(types[$"blk.{layer}.ffn_down.weight"], Is.EqualTo(expected), $"layer {layer} ffn_down");
                Assert.That(types[$"blk.{layer}.attn_q.weight"], Is.EqualTo(GgmlType.Q4_K), $"layer {layer} attn_q");
            }
        }

        using MistralModel model = MistralModel.Load(path, new ModelOptions { Threads = 2 });
        using MistralSession session = model.CreateSession();
        float[] logits = session.Evaluate([1, 200, 17]);
        Assert.That(logits, Has.Length.EqualTo(300));
        Assert.That(logits.All(float.IsFinite), "finite logits");
        Assert.That(logits.Max() - logits.Min(), Is.GreaterThan(0.1f), "the logits depend on the token");
    }
}
