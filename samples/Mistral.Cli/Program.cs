using Mistral;
using Mistral.Cli;
using Mistral.Cli.Commands;
using Mistral.Gguf;

// mistral <command> [options]; with no command it runs the self-contained demo.
const string usage = """
    usage: mistral <command> [options]
      demo      [--threads N] [--max-tokens N]          write a synthetic model, generate, print tokens/s (default)
      generate  --model F (--prompt P | --prompt-ids 1,2,3) [--max-tokens N] [--temperature T] [--top-k K]
                [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--threads N] [--ctx N] [--stop S]... [--ids]
                [--backend auto|cpu|cuda] [--device N] [--scan-weights] [--diagnose-nonfinite]
      tokenize  --model F --text T [--bos] [--special]
      info      [--model F] [--backend auto|cpu|cuda] [--device N]
      bench     --model F [--prompt-tokens 128] [--gen-tokens 64] [--threads N] [--runs 3] [--json]
                [--backend auto|cpu|cuda] [--device N]
    --backend: where the model runs (default auto: CUDA when an NVIDIA driver and device are present, else
    the CPU); --device: the CUDA device ordinal. generate prints the backend and device on stderr.
    --scan-weights: refuse a model with a NaN/Inf weight at load (reads the whole file); --diagnose-nonfinite:
    when the model produces NaN/Inf, name the first layer that did (slower).
    """;

var command = args.Length == 0 ? "demo" : args[0];
var rest = args.Skip(1);
try
{
    return command switch
    {
        "demo" => DemoCommand.Run(new CommandLine(rest, new HashSet<string>())),
        "generate" => GenerateCommand.Run(new CommandLine(rest, new HashSet<string> { "ids", "scan-weights", "diagnose-nonfinite" })),
        "tokenize" => TokenizeCommand.Run(new CommandLine(rest, new HashSet<string> { "bos", "special" })),
        "info" => InfoCommand.Run(new CommandLine(rest, new HashSet<string>())),
        "bench" => BenchCommand.Run(new CommandLine(rest, new HashSet<string> { "json" })),
        "help" or "--help" or "-h" => Help(),
        _ => throw new UsageException($"unknown command '{command}'"),
    };
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"mistral {command}: {ex.Message}");
    Console.Error.WriteLine(usage);
    return 2;
}
catch (Exception ex) when (ex is MistralException or GgufFormatException or NotSupportedException or ArgumentException
                               or IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException
                               or InsufficientMemoryException)
{
    // Errors a user can act on: say what and where, without a stack trace (a model too large for the GPU's
    // memory is one: the message gives the bytes needed and free).
    Console.Error.WriteLine($"mistral {command}: {ex.Message}");
    return 1;
}

int Help()
{
    Console.WriteLine(usage);
    return 0;
}
