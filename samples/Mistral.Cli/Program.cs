using System.CommandLine;
using Mistral;
using Mistral.Cli;
using Mistral.Cli.Commands;
using Mistral.Gguf;

// mistral <command> [options]; with no command it runs the self-contained demo (README's first command).
var root = new RootCommand("mistral: runs Mistral-family language models from GGUF files. With no command, runs the demo.")
{
    DemoCommand.Create(),
    GenerateCommand.Create(),
    TokenizeCommand.Create(),
    InfoCommand.Create(),
    BenchCommand.Create(),
};
string[] effective = args switch
{
    [] => ["demo"],
    ["help"] => ["--help"],
    ["help", var command] => [command, "--help"],
    _ => args,
};
var parse = root.Parse(effective);
var name = parse.CommandResult.Command == root ? "" : parse.CommandResult.Command.Name;
if (parse.Errors.Count > 0) return UsageErrors.Report(parse, name);
try
{
    // Exceptions are handled below (no stack traces for a user's mistake); Ctrl-C is generate's to handle.
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}
catch (UsageException ex)
{
    return UsageErrors.Report(name, ex.Message);
}
catch (Exception ex) when (ex is MistralException or GgufFormatException or NotSupportedException or ArgumentException
                               or IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException
                               or InsufficientMemoryException)
{
    // Errors a user can act on: say what and where, without a stack trace (a model too large for the GPU's
    // memory is one: the message gives the bytes needed and free).
    Console.Error.WriteLine($"mistral {name}: {ex.Message}");
    return ExitCodes.Failure;
}
