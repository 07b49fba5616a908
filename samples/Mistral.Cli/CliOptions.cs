using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Mistral.Cli;

/// <summary>
/// Builders for the options the commands share, each checked at parse time with a message in the CLI's own words
/// ("--max-tokens must be at least 1"), so a bad value is a usage error (exit 2) before anything is loaded.
/// </summary>
internal static class CliOptions
{
    /// <summary>--model: an existing file, not a directory.</summary>
    public static Option<string> Model(bool required)
    {
        var option = new Option<string>("--model", "-m") { Description = "the GGUF model file", HelpName = "file.gguf", Required = required };
        option.Validators.Add(result =>
        {
            var path = result.GetValueOrDefault<string>();
            if (string.IsNullOrEmpty(path)) result.AddError("--model needs a file path");
            else if (Directory.Exists(path)) result.AddError($"--model: '{path}' is a directory, expected a .gguf file");
            else if (!File.Exists(path)) result.AddError($"--model: '{path}' does not exist");
        });
        return option;
    }

    /// <summary>--threads: 0 (the default) is one per CPU this process may use.</summary>
    public static Option<int> Threads() =>
        Int("--threads", 0, 0, "worker threads; 0 = one per CPU this process may use (its affinity and container quota)");

    /// <summary>An integer option with a default and a lower bound, both shown in --help.</summary>
    public static Option<int> Int(string name, int defaultValue, int min, string description) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => Parse(result, name, "a whole number", s =>
                int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : (int?)null, v => v >= min, $"must be at least {min}"),
        };

    /// <summary>A number option with a default and a range check (<paramref name="rule"/> says the range in words).</summary>
    public static Option<float> Float(string name, float defaultValue, Func<float, bool> valid, string rule, string description) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => Parse(result, name, "a number", s =>
                float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v) ? v : (float?)null, valid, rule),
        };

    /// <summary>
    /// Parses the option's last value. A value that is not a number, or out of range, becomes a parse error naming
    /// the option; the returned value is then unused.
    /// </summary>
    private static T Parse<T>(ArgumentResult result, string name, string what, Func<string, T?> parse, Func<T, bool> valid, string rule)
        where T : struct
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (parse(text) is not { } value)
        {
            result.AddError($"{name}: '{text}' is not {what}");
            return default;
        }
        if (!valid(value)) result.AddError($"{name} {rule} (got {text})");
        return value;
    }
}
