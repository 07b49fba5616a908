using System.Globalization;
using System.Text.Json;
using Mistral;

namespace Mistral.Cli.Commands;

/// <summary><c>generate</c>: prints only the generated text (or, with --ids, the generated ids as a JSON array).</summary>
internal static class GenerateCommand
{
    public static int Run(CommandLine cl)
    {
        var modelPath = cl.Required("model");
        var prompt = cl.String("prompt");
        var promptIds = cl.String("prompt-ids");
        if ((prompt is null) == (promptIds is null)) throw new UsageException("give exactly one of --prompt and --prompt-ids");
        var temperature = cl.Float("temperature") ?? 0.8f;
        var options = new GenerationOptions
        {
            MaxTokens = cl.Int("max-tokens") ?? 128,
            Temperature = temperature,
            TopK = cl.Int("top-k") ?? 40,
            TopP = cl.Float("top-p") ?? 0.95f,
            MinP = cl.Float("min-p") ?? 0.05f,
            RepetitionPenalty = cl.Float("repeat-penalty") ?? 1.0f,
            Seed = cl.ULong("seed"),
            StopStrings = cl.All("stop"),
        };
        var threads = cl.Int("threads") ?? 0;
        var context = cl.Int("ctx") ?? 0;
        var printIds = cl.Flag("ids");
        var scanWeights = cl.Flag("scan-weights");
        var diagnose = cl.Flag("diagnose-nonfinite");
        var backend = BackendChoice.Parse(cl);
        cl.RejectUnknown();

        using var model = MistralModel.Load(modelPath, new ModelOptions
        {
            Threads = threads,
            ContextLength = context,
            Backend = backend.Backend,
            Device = backend.Device,
            ScanWeightsForNonFinite = scanWeights,
        });
        // stderr: stdout carries only the generated text (or ids), for scripts.
        Console.Error.WriteLine($"backend: {backend.Describe(model)}");
        using var session = model.CreateSession(new SessionOptions { DiagnoseNonFinite = diagnose });
        var result = promptIds is not null
            ? session.Complete(ParseIds(promptIds), options)
            : session.Complete(prompt!, options);
        if (printIds) Console.WriteLine(JsonSerializer.Serialize(result.Tokens));
        else Console.Write(result.Text);
        return 0;
    }

    private static int[] ParseIds(string text)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            throw new UsageException($"--prompt-ids: '{text}' is not a comma-separated list of token ids");
        }
    }
}
