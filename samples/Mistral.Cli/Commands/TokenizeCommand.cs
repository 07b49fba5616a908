using System.CommandLine;
using System.Text.Json;
using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Cli.Commands;

/// <summary><c>tokenize</c>: prints the token ids of a text as a JSON array.</summary>
internal static class TokenizeCommand
{
    private static readonly Option<string> Model = CliOptions.Model(required: true);
    private static readonly Option<string> Text = new("--text", "-t") { Description = "the text to tokenize", Required = true };
    private static readonly Option<bool> Bos = new("--bos") { Description = "put the BOS token first" };
    private static readonly Option<bool> Special = new("--special") { Description = "read control tokens written in the text ([INST], </s>) as those tokens" };

    public static Command Create()
    {
        var command = new Command("tokenize", "print the token ids of a text as a JSON array (reads only the tokenizer)");
        foreach (var option in new Option[] { Model, Text, Bos, Special })
            command.Options.Add(option);
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        var modelPath = parse.GetValue(Model)!;
        var text = parse.GetValue(Text)!;
        var bos = parse.GetValue(Bos);
        var special = parse.GetValue(Special);
        // Only the tokenizer is read, not the weights: faster, and it works on vocabulary-only files (llama.cpp ships
        // such files for its tokenizer tests) as well as on models.
        using var file = GgufFile.Open(modelPath);
        var tokenizer = MistralTokenizer.FromGguf(file);
        Console.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(text, bos, special)));
        return 0;
    }
}
