using System.CommandLine;
using System.CommandLine.Invocation;

namespace Mistral.Cli;

/// <summary>
/// Reports a wrong command line on stderr, each error on a line naming the command, then System.CommandLine's
/// typo suggestions ("'--promt' was not matched. Did you mean one of the following? --prompt") and where the help
/// is; exits with <see cref="ExitCodes.Usage"/>.
/// </summary>
internal static class UsageErrors
{
    public static int Report(ParseResult parse, string command)
    {
        foreach (var error in parse.Errors) Console.Error.WriteLine(Prefix(command) + error.Message);
        // The library's error action finds the typo suggestions; its help text is left out (it would bury the error),
        // and its copy of the errors dropped, as they were printed above in this CLI's form.
        if (parse.Action is ParseErrorAction action)
        {
            action.ShowHelp = false;
            action.ShowTypoCorrections = true;
            var suggestions = new StringWriter();
            parse.Invoke(new InvocationConfiguration { Output = suggestions, Error = TextWriter.Null });
            Console.Error.Write(Relevant(suggestions.ToString()));
        }
        Console.Error.WriteLine(HelpHint(command));
        return ExitCodes.Usage;
    }

    public static int Report(string command, string message)
    {
        Console.Error.WriteLine(Prefix(command) + message);
        Console.Error.WriteLine(HelpHint(command));
        return ExitCodes.Usage;
    }

    /// <summary>
    /// Keeps the suggestions of like for like: options for a mistyped option ("--promt" → "--prompt"), commands for
    /// a mistyped command; a stray value such as "x" would otherwise be offered "-m" and "-p".
    /// </summary>
    private static string Relevant(string suggestions)
    {
        var kept = new System.Text.StringBuilder();
        string? header = null;
        var headerIsOption = false;
        foreach (var line in suggestions.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('\''))
            {
                header = line;
                headerIsOption = line.StartsWith("'-", StringComparison.Ordinal);
            }
            else if (header is not null && line.StartsWith('-') == headerIsOption)
            {
                kept.AppendLine(header);
                header = null;
                kept.AppendLine("  " + line);
            }
            else if (header is null && kept.Length > 0 && line.StartsWith('-') == headerIsOption)
            {
                kept.AppendLine("  " + line);
            }
        }
        return kept.ToString();
    }

    private static string Prefix(string command) => command.Length == 0 ? "mistral: " : $"mistral {command}: ";

    private static string HelpHint(string command) =>
        command.Length == 0 ? "Run 'mistral --help' for the commands." : $"Run 'mistral {command} --help' for its options and their defaults.";
}
