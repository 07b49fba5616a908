using System.CommandLine;
using System.Globalization;
using Mistral;
using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Cli.Commands;

/// <summary>
/// <c>info</c>: the backends (which one <c>--backend</c> picks here, on what device, and why CUDA cannot run if it
/// cannot), then, with <c>--model</c>, the model's configuration, its metadata and its tensor directory.
/// Exits 1 when <c>--backend cuda</c> was asked for and cannot run.
/// </summary>
internal static class InfoCommand
{
    private const int MaxArrayItemsShown = 8;

    private static readonly Option<string> Model = CliOptions.Model(required: false);
    private static readonly BackendChoice.Options Backend = BackendChoice.CreateOptions();

    public static Command Create()
    {
        var command = new Command("info", "the backends here and, with --model, the model's configuration, chat template, metadata and tensors");
        command.Options.Add(Model);
        Backend.AddTo(command);
        command.SetAction(parse => Run(parse.GetValue(Model), BackendChoice.From(parse, Backend)));
        return command;
    }

    private static int Run(string? modelPath, BackendChoice choice)
    {
        var usable = PrintBackends(choice);
        if (modelPath is not null)
        {
            Console.WriteLine();
            PrintModel(modelPath);
            MemoryReport.Print(modelPath, choice);
        }
        if (!usable)
        {
            Console.Error.WriteLine($"mistral info: the CUDA backend cannot run here: {BackendInfo.Query(MistralBackend.Cuda, choice.Device).UnavailableReason}");
            return 1;
        }
        return 0;
    }

    /// <summary>Where a model would run with this choice, and each backend's answer; false when the choice cannot run.</summary>
    private static bool PrintBackends(BackendChoice choice)
    {
        var chosen = BackendInfo.Query(choice.Backend, choice.Device);
        var line = chosen.ToString();
        if (choice.Backend == MistralBackend.Auto && chosen.Backend == MistralBackend.Cpu) line += $"; CUDA not used: {choice.WhyNotCuda()}";
        Console.WriteLine($"backend:      {choice.Backend.ToString().ToLowerInvariant()} → {line}");
        Console.WriteLine("backends:");
        Console.WriteLine($"  cpu         {BackendInfo.Query(MistralBackend.Cpu)}");
        Console.WriteLine($"  cuda        {BackendInfo.Query(MistralBackend.Cuda, choice.Device)}");
        return chosen.IsAvailable;
    }

    private static void PrintModel(string modelPath)
    {
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
            PrintChatTemplate(file);
            Console.WriteLine($"attention:    context {c.TrainedContextLength}, window {(c.SlidingWindow > 0 ? c.SlidingWindow.ToString(CultureInfo.InvariantCulture) : "none (full)")}, rope base {c.RopeFreqBase.ToString(CultureInfo.InvariantCulture)}, rms eps {c.RmsNormEps.ToString(CultureInfo.InvariantCulture)}");
            PrintKvCache(c);
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
    }

    /// <summary>The chat format a model loaded with default options gets, and where it comes from (see <see cref="ChatTemplateReport"/>).</summary>
    private static void PrintChatTemplate(GgufFile file)
    {
        try
        {
            Console.WriteLine($"chat:         {ChatTemplateReport.Read(file, MistralTokenizer.FromGguf(file)).Describe()}");
        }
        catch (InvalidDataException ex)
        {
            Console.WriteLine($"chat:         unknown: the tokenizer metadata is invalid: {ex.Message}");
        }
    }

    /// <summary>
    /// The KV cache a session of this model holds. Per token: K and V, each layers × KV heads × head dim values, of 2
    /// bytes in F16 (the default, <see cref="SessionOptions.KvCacheType"/>) or 4 in F32. In all: for a session with
    /// nothing set, whose context is the trained one capped at 4096 (as <see cref="MistralModel.CreateSession"/> picks
    /// it) on as many rows as the native core keeps: a sliding window no wider than the context rolls over
    /// window + batch − 1 rows.
    /// </summary>
    private static void PrintKvCache(ModelConfig c)
    {
        var values = 2L * c.LayerCount * c.KvHeadCount * c.HeadDim;
        Console.WriteLine($"kv cache:     per token F16 {values * 2} bytes (default), F32 {values * 4} bytes (2 × {c.LayerCount} layers × {c.KvHeadCount} kv heads × head dim {c.HeadDim} values)");
        var context = Math.Min(c.TrainedContextLength, 4096);
        if (context <= 0)
        {
            Console.WriteLine("kv total:     no default context: the file gives no context length");
            return;
        }
        var batch = Math.Min(new ModelOptions().BatchSize, context);
        var rolling = c.SlidingWindow > 0 && context >= c.SlidingWindow;
        var rows = rolling ? Math.Min((long)c.SlidingWindow + batch - 1, context) : context;
        Console.WriteLine($"kv total:     default context {context} tokens, {rows} cache rows{(rolling ? " (rolling window)" : "")}: F16 {Bytes(values * 2 * rows)}, F32 {Bytes(values * 4 * rows)}");
    }

    private static string Bytes(long n) => n < 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{n} bytes ({n / (1024.0 * 1024.0):F1} MiB)")
        : string.Create(CultureInfo.InvariantCulture, $"{n} bytes ({n / (1024.0 * 1024.0 * 1024.0):F2} GiB)");

    private static string Describe(GgufValue value)
    {
        if (value.Type != GgufValueType.Array) return Convert.ToString(value.Value, CultureInfo.InvariantCulture) ?? "";
        var items = ((System.Collections.IEnumerable)value.Value).Cast<object>().Take(MaxArrayItemsShown)
            .Select(o => o is GgufValue nested ? Describe(nested) : Convert.ToString(o, CultureInfo.InvariantCulture));
        var more = value.ArrayLength > MaxArrayItemsShown ? $", … ({value.ArrayLength} items)" : "";
        return $"[{string.Join(", ", items)}{more}]";
    }
}
