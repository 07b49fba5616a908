using System.Globalization;
using Mistral;
using Mistral.Gguf;

namespace Mistral.Cli.Commands;

/// <summary><c>info</c>: the model's configuration, its metadata and its tensor directory.</summary>
internal static class InfoCommand
{
    private const int MaxArrayItemsShown = 8;

    public static int Run(CommandLine cl)
    {
        var modelPath = cl.Required("model");
        cl.RejectUnknown();
        using var file = GgufFile.Open(modelPath);
        Console.WriteLine($"file:         {file.Path}");
        Console.WriteLine($"gguf version: {file.Version}, alignment {file.Alignment}, {file.Tensors.Count} tensors, {file.Metadata.Count} metadata keys");
        try
        {
            var c = ModelConfig.FromGguf(file);
            Console.WriteLine($"architecture: {c.Architecture} ({c.Name ?? "unnamed"})");
            Console.WriteLine($"dimensions:   vocab {c.VocabSize}, hidden {c.EmbeddingLength}, layers {c.LayerCount}, heads {c.HeadCount}/{c.KvHeadCount} kv, head dim {c.HeadDim}, ffn {c.FeedForwardLength}");
            Console.WriteLine($"experts:      {(c.ExpertCount > 0 ? $"{c.ExpertUsedCount} of {c.ExpertCount} per token (mixture of experts)" : "none (dense)")}");
            Console.WriteLine($"tokenizer:    {file.GetString("tokenizer.ggml.model") ?? "none"}{(file.GetString("tokenizer.ggml.pre") is { } pre ? $" ({pre})" : "")}, {file.GetArray<string>("tokenizer.ggml.tokens")?.Length ?? 0} tokens");
            Console.WriteLine($"attention:    context {c.TrainedContextLength}, window {(c.SlidingWindow > 0 ? c.SlidingWindow.ToString(CultureInfo.InvariantCulture) : "none (full)")}, rope base {c.RopeFreqBase.ToString(CultureInfo.InvariantCulture)}, rms eps {c.RmsNormEps.ToString(CultureInfo.InvariantCulture)}");
        }
        catch (Exception ex) when (ex is NotSupportedException or GgufFormatException)
        {
            Console.WriteLine($"model:        not runnable by this version: {ex.Message}");
        }
        var types = file.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Key} ×{g.Count()}");
        Console.WriteLine($"weight types: {string.Join(", ", types)}");

        Console.WriteLine();
        Console.WriteLine("metadata:");
        foreach (var (key, value) in file.Metadata) Console.WriteLine($"  {key} = {Describe(value)}");
        Console.WriteLine();
        Console.WriteLine("tensors:");
        foreach (var t in file.Tensors)
            Console.WriteLine($"  {t.Name,-32} {t.Type,-5} [{string.Join(", ", t.Dimensions)}] {t.ByteSize} bytes");
        return 0;
    }

    private static string Describe(GgufValue value)
    {
        if (value.Type != GgufValueType.Array) return Convert.ToString(value.Value, CultureInfo.InvariantCulture) ?? "";
        var items = ((System.Collections.IEnumerable)value.Value).Cast<object>().Take(MaxArrayItemsShown)
            .Select(o => o is GgufValue nested ? Describe(nested) : Convert.ToString(o, CultureInfo.InvariantCulture));
        var more = value.ArrayLength > MaxArrayItemsShown ? $", … ({value.ArrayLength} items)" : "";
        return $"[{string.Join(", ", items)}{more}]";
    }
}
