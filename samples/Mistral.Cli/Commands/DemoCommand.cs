using System.Globalization;
using Mistral;

namespace Mistral.Cli.Commands;

/// <summary>
/// <c>demo</c>: needs no download. Writes a synthetic Mistral-architecture model (random Q4_0 weights)
/// to a temporary file, generates from it and prints prefill and decode speed. The text is meaningless
/// because the weights are random; the speed is what a real model of that shape would get.
/// </summary>
internal static class DemoCommand
{
    public static int Run(CommandLine cl)
    {
        var threads = cl.Int("threads") ?? 0;
        var maxTokens = cl.Int("max-tokens") ?? 64;
        cl.RejectUnknown();

        var spec = new SyntheticModelSpec();
        var path = Path.Combine(Path.GetTempPath(), $"mistral-demo-{Environment.ProcessId}.gguf");
        try
        {
            SyntheticModel.Write(path, spec);
            using var model = MistralModel.Load(path, new ModelOptions { Threads = threads });
            var c = model.Config;
            Console.WriteLine($"synthetic model: {c.LayerCount} layers, hidden {c.EmbeddingLength}, {c.HeadCount} heads / {c.KvHeadCount} kv, ffn {c.FeedForwardLength}, vocab {c.VocabSize}, {spec.WeightType}, {new FileInfo(path).Length / 1e6:F1} MB");

            using var session = model.CreateSession();
            const string prompt = "Once upon a time, in a land far away, there lived a";
            var result = session.Complete(prompt, new GenerationOptions { MaxTokens = maxTokens, Seed = 42, Temperature = 0.8f });
            Console.WriteLine($"prompt:     {prompt}");
            Console.WriteLine($"generated:  {Printable(result.Text)}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prefill:    {result.PromptTokenCount} tokens, {result.PromptTokensPerSecond:F1} tokens/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"decode:     {result.Tokens.Count} tokens, {result.GenerationTokensPerSecond:F1} tokens/s ({result.FinishReason})"));
            Console.WriteLine("(random weights: the text is noise; the speed is real)");
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Printable(string text) =>
        new(text.Select(ch => char.IsControl(ch) ? ' ' : ch).ToArray());
}
