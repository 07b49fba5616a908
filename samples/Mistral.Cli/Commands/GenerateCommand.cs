using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Mistral;
using Mistral.Gguf;

namespace Mistral.Cli.Commands;

/// <summary>
/// <c>generate</c>: prints the generated text on stdout as it comes (or, with --ids, the generated ids as a JSON array
/// at the end), then a newline; on stderr, where the model ran, loading progress and why generation stopped.
/// Ctrl-C stops it: what was printed stays, "cancelled" goes to stderr, the exit status is 130.
/// </summary>
internal static class GenerateCommand
{
    private static readonly Option<string> Model = CliOptions.Model(required: true);
    private static readonly Option<string> Prompt = new("--prompt", "-p") { Description = "the prompt text (raw: no chat template unless --chat)" };
    private static readonly Option<string> PromptIds = new("--prompt-ids") { Description = "the prompt as token ids, comma-separated (no BOS is added)", HelpName = "1,2,3" };
    private static readonly Option<int> MaxTokens = CliOptions.Int("--max-tokens", 128, 1, "most tokens to generate");
    private static readonly Option<float> Temperature = CliOptions.Float("--temperature", 0.8f, t => t >= 0, "must be 0 (greedy) or more", "sampling temperature; 0 = greedy");
    private static readonly Option<int> TopK = CliOptions.Int("--top-k", 40, 0, "sample from the K most likely tokens; 0 = off");
    private static readonly Option<float> TopP = CliOptions.Float("--top-p", 0.95f, p => p > 0 && p <= 1, "must be more than 0 and at most 1", "nucleus sampling; 1 = off");
    private static readonly Option<float> MinP = CliOptions.Float("--min-p", 0.05f, p => p >= 0 && p < 1, "must be at least 0 and less than 1", "drop tokens less likely than P × the most likely; 0 = off");
    private static readonly Option<float> RepeatPenalty = CliOptions.Float("--repeat-penalty", 1.0f, r => r > 0, "must be more than 0", "penalty for repeating recent tokens; 1 = off");
    private static readonly Option<ulong?> Seed = new("--seed") { Description = "random seed, for the same text again (default: a random one)" };
    private static readonly Option<int> Threads = CliOptions.Threads();
    private static readonly Option<int> Context = CliOptions.Int("--ctx", 0, 0, "context length in tokens (prompt + generated); 0 = the model's trained length, at most 4096");
    private static readonly Option<string[]> Stop = new("--stop") { Description = "stop when this text is generated (repeatable); it is not printed" };
    private static readonly Option<bool> Ids = new("--ids") { Description = "print the generated token ids as a JSON array instead of text" };
    private static readonly Option<bool> Chat = new("--chat") { Description = "send the prompt as a user message in the model's chat template (see info)" };
    private static readonly Option<bool> ScanWeights = new("--scan-weights") { Description = "refuse a model with a NaN/Inf weight at load (reads the whole file)" };
    private static readonly Option<bool> Diagnose = new("--diagnose-nonfinite") { Description = "when the model produces NaN/Inf, name the first layer that did (slower)" };
    private static readonly BackendChoice.Options Backend = BackendChoice.CreateOptions();

    public static Command Create()
    {
        var command = new Command("generate", "generate text from a prompt, printing it as it comes");
        foreach (var option in new Option[] { Model, Prompt, PromptIds, MaxTokens, Temperature, TopK, TopP, MinP, RepeatPenalty, Seed, Threads, Context, Stop, Ids, Chat, ScanWeights, Diagnose })
            command.Options.Add(option);
        Backend.AddTo(command);
        command.Validators.Add(result =>
        {
            var texts = (result.GetResult(Prompt) is not null ? 1 : 0) + (result.GetResult(PromptIds) is not null ? 1 : 0);
            if (texts != 1) result.AddError("give exactly one of --prompt and --prompt-ids");
            else if (result.GetResult(PromptIds) is not null && result.GetResult(Chat) is not null) result.AddError("--chat needs --prompt (text), not --prompt-ids");
        });
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        var modelPath = parse.GetValue(Model)!;
        var maxTokens = parse.GetValue(MaxTokens);
        var options = new GenerationOptions
        {
            MaxTokens = maxTokens,
            Temperature = parse.GetValue(Temperature),
            TopK = parse.GetValue(TopK),
            TopP = parse.GetValue(TopP),
            MinP = parse.GetValue(MinP),
            RepetitionPenalty = parse.GetValue(RepeatPenalty),
            Seed = parse.GetValue(Seed),
            StopStrings = parse.GetValue(Stop) ?? [],
        };
        var promptIds = parse.GetValue(PromptIds) is { } idText ? ParseIds(idText) : null;
        var backend = BackendChoice.From(parse, Backend);

        using var model = LoadProgress.Run("loading", progress => MistralModel.Load(modelPath, new ModelOptions
        {
            Threads = parse.GetValue(Threads),
            ContextLength = parse.GetValue(Context),
            Backend = backend.Backend,
            Device = backend.Device,
            ScanWeightsForNonFinite = parse.GetValue(ScanWeights),
            Progress = progress,
        }));
        // stderr: stdout carries only the generated text (or ids), for scripts.
        Console.Error.WriteLine($"backend: {backend.Describe(model)}");
        using var session = model.CreateSession(new SessionOptions { DiagnoseNonFinite = parse.GetValue(Diagnose) });
        var prompt = promptIds ?? PromptTokens(parse, model, modelPath);
        if (prompt.Count > session.PositionLimit)
        {
            throw new UsageException(
                $"the prompt is {prompt.Count} tokens but the context holds {session.PositionLimit} (--ctx {session.ContextLength}): " +
                $"raise --ctx (the model was trained for {model.Config.TrainedContextLength}) or shorten the prompt");
        }
        return Stream(session, prompt, options, parse.GetValue(Ids), trimFirstSpace: parse.GetValue(Chat) && model.Tokenizer.AddSpacePrefix);
    }

    /// <summary>The prompt text's ids: raw (BOS as the tokenizer says) or, with --chat, one user message in the model's template.</summary>
    private static IReadOnlyList<int> PromptTokens(ParseResult parse, MistralModel model, string modelPath)
    {
        var text = parse.GetValue(Prompt)!;
        if (!parse.GetValue(Chat)) return model.Tokenizer.Encode(text, model.Tokenizer.AddBos);
        using (var file = GgufFile.Open(modelPath))
        {
            if (ChatTemplateReport.Read(file, model.Tokenizer).Warning is { } warning) Console.Error.WriteLine(warning);
        }
        return model.ChatTemplate.Tokenize([new ChatMessage(ChatRole.User, text)], model.Tokenizer);
    }

    /// <summary>Prints text as it is generated; Ctrl-C (SIGINT) cancels, keeping what was printed.</summary>
    private static int Stream(MistralSession session, IReadOnlyList<int> prompt, GenerationOptions options, bool printIds, bool trimFirstSpace)
    {
        using var cancel = new CancellationTokenSource();
        // Only while generating: a Ctrl-C during loading still ends the process at once, as usual.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true; // keep the process: the loop below stops, prints why, and exits 130
            cancel.Cancel();
        });
        var stdout = Console.Out;
        GenerationResult? result = null;
        var first = true;
        try
        {
            foreach (var update in session.CompleteStreaming(prompt, options, cancel.Token))
            {
                result = update.Result;
                if (printIds || update.Text.Length == 0) continue;
                // A SentencePiece answer starts with the space the template's next turn adds back (as Chat trims it).
                var text = first && trimFirstSpace && update.Text.StartsWith(' ') ? update.Text[1..] : update.Text;
                first = false;
                stdout.Write(text);
                stdout.Flush();
            }
        }
        catch (OperationCanceledException)
        {
            if (!printIds) stdout.WriteLine();
            stdout.Flush();
            Console.Error.WriteLine("cancelled");
            return ExitCodes.Cancelled;
        }
        if (printIds) stdout.WriteLine(JsonSerializer.Serialize(result!.Tokens));
        else stdout.WriteLine();
        stdout.Flush();
        Console.Error.WriteLine($"stopped: {StopReason.Describe(result!, options.MaxTokens, session.ContextLength)}");
        return ExitCodes.Ok;
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
