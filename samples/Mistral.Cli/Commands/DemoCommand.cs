using System.CommandLine;
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
    private static readonly Option<int> Threads = CliOptions.Threads();
    private static readonly Option<int> MaxTokens = CliOptions.Int("--max-tokens", 64, 1, "most tokens to generate");

    public static Command Create()
    {
        var command = new Command("demo", "write a synthetic model, generate from it and print tokens/s (the default command)");
        command.Options.Add(Threads);
        command.Options.Add(MaxTokens);
        command.SetAction(parse => Run(parse.GetValue(Threads), parse.GetValue(MaxTokens)));
        return command;
    }

    private static int Run(int threads, int maxTokens)
    {
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
