using System.Globalization;
using Mistral.Gguf;

namespace Mistral.SideBySide;

/// <summary>
/// A Mixtral-shaped file: the dense synthetic model's vocabulary, attention, norms and output
/// (<see cref="SyntheticModel"/>), with each layer's feed-forward replaced by a router and stacked experts as
/// llama.cpp's converter writes Mixtral: <c>blk.N.ffn_gate_inp</c> [n_embd, n_expert] F32, and
/// <c>blk.N.ffn_{gate,up}_exps</c> [n_embd, n_ff, n_expert], <c>blk.N.ffn_down_exps</c> [n_ff, n_embd, n_expert]
/// of the type the spec gives the dense <c>ffn_gate/up/down</c> (so <c>--types Q4_K_M</c> keeps its mix).
/// </summary>
/// <remarks>
/// Drawing and quantizing every expert's values would take minutes per file (8 experts × 3 matrices of 59M
/// weights per layer at Mixtral's size), so each matrix shape is drawn and quantized once per type, and every
/// expert of every layer takes those rows rotated by its own offset: every expert is distinct bytes (the memory
/// traffic of real experts), at the price of experts that are row permutations of one another, which nothing
/// measured here depends on. The router is drawn in full, so tokens spread over the experts.
/// </remarks>
internal static class MixtralFile
{
    public static void Write(string path, SyntheticModelSpec spec, int experts, int used)
    {
        var densePath = path + ".dense";
        // Everything but the feed-forward, from the dense writer with the smallest feed-forward it takes (one K-quant block).
        SyntheticModel.Write(densePath, spec with { FeedForwardLength = 256 });
        try
        {
            using var dense = GgufFile.Open(densePath);
            var writer = new GgufWriter(dense.Version, dense.Alignment);
            foreach (var (key, value) in dense.Metadata)
            {
                if (key != "llama.feed_forward_length") writer.Add(key, value);
            }
            writer.Add("llama.feed_forward_length", (uint)spec.FeedForwardLength);
            writer.Add("llama.expert_count", (uint)experts);
            writer.Add("llama.expert_used_count", (uint)used);

            var random = new Random(spec.Seed + 1);
            var pools = new Dictionary<(GgmlType Type, int Cols, int Rows), byte[]>();
            byte[] Pool(GgmlType type, int cols, int rows)
            {
                if (!pools.TryGetValue((type, cols, rows), out var pool))
                {
                    var scale = Math.Sqrt(3.0 / cols); // uniform with variance 1/cols, as the dense writer draws
                    var values = new float[(long)cols * rows];
                    for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
                    pools[(type, cols, rows)] = pool = GgmlQuantization.Quantize(type, values);
                }
                return pool;
            }

            var embd = spec.EmbeddingLength;
            var ff = spec.FeedForwardLength;
            var stacked = 0;
            foreach (var tensor in dense.Tensors)
            {
                var name = tensor.Name;
                if (name.EndsWith(".ffn_up.weight", StringComparison.Ordinal) || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal))
                    continue;
                if (!name.EndsWith(".ffn_gate.weight", StringComparison.Ordinal))
                {
                    writer.AddTensor(name, tensor.Type, tensor.Dimensions, dense.GetTensorBytes(tensor));
                    continue;
                }
                var prefix = name[..^"ffn_gate.weight".Length]; // "blk.N."
                var router = new float[(long)embd * experts];
                for (var i = 0; i < router.Length; i++) router[i] = (float)((random.NextDouble() * 2 - 1) * Math.Sqrt(3.0 / embd));
                writer.AddTensor(prefix + "ffn_gate_inp.weight", GgmlType.F32, [embd, experts], GgmlQuantization.Quantize(GgmlType.F32, router));
                foreach (var (part, cols, rows) in new[] { ("gate", embd, ff), ("up", embd, ff), ("down", ff, embd) })
                {
                    var type = spec.TypeOf(string.Create(CultureInfo.InvariantCulture, $"{prefix}ffn_{part}.weight"));
                    var pool = Pool(type, cols, rows);
                    var rowBytes = pool.Length / rows;
                    var data = new byte[(long)pool.Length * experts];
                    for (var e = 0; e < experts; e++)
                    {
                        // 997 is prime to every row count here (powers of two times 7), so no two matrices share an offset
                        var shift = (int)((++stacked * 997L) % rows) * rowBytes;
                        var at = (long)e * pool.Length;
                        pool.AsSpan(shift).CopyTo(data.AsSpan((int)at));
                        pool.AsSpan(0, shift).CopyTo(data.AsSpan((int)(at + pool.Length - shift)));
                    }
                    writer.AddTensor(string.Create(CultureInfo.InvariantCulture, $"{prefix}ffn_{part}_exps.weight"), type, [cols, rows, experts], data);
                }
            }
            writer.Save(path);
        }
        finally
        {
            File.Delete(densePath);
        }
    }
}
