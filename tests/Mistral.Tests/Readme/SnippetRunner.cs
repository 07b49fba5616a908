using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;
using System.Text.RegularExpressions;

namespace Mistral.Tests.Readme;

/// <summary>What a snippet printed, and the exception it ended with (null when it finished).</summary>
internal sealed record SnippetRun(string Output, Exception? Failure);

/// <summary>
/// Runs a compiled snippet in this process, in a collectible load context of its own (Mistral.Native and the rest come
/// from the test's, so the native library is the one the tests use), with its console output captured.
/// </summary>
internal static partial class SnippetRunner
{
    // A regular string literal naming a .gguf file: "mistral-7b-instruct-v0.3.Q4_0.gguf".
    [GeneratedRegex(@"""(?:[^""\\\r\n]|\\.)*\.gguf""")]
    private static partial Regex GgufLiteral();

    /// <summary>
    /// The snippet's code with every "….gguf" string literal replaced by <paramref name="modelPath"/>, so that the
    /// README names a real model file while the test loads a small one; the line count does not change.
    /// </summary>
    public static (string Code, int Replaced) WithModelPath(string code, string modelPath)
    {
        var replaced = 0;
        var literal = "@\"" + modelPath.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var result = GgufLiteral().Replace(code, _ =>
        {
            replaced++;
            return literal;
        });
        return (result, replaced);
    }

    /// <summary>Runs the program in <paramref name="image"/> to its end, or fails after <paramref name="limit"/>.</summary>
    public static SnippetRun Run(byte[] image, TimeSpan limit)
    {
        var context = new AssemblyLoadContext("readme-snippet", isCollectible: true);
        var output = new StringWriter();
        var console = Console.Out;
        try
        {
            var entry = context.LoadFromStream(new MemoryStream(image)).EntryPoint
                ?? throw new InvalidOperationException("The compiled snippet has no entry point.");
            object?[]? arguments = entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()];
            // Tests in this assembly do not run in parallel, so nothing else writes to the console meanwhile.
            Console.SetOut(output);
            var run = Task.Run(() =>
            {
                try
                {
                    entry.Invoke(null, arguments);
                }
                catch (TargetInvocationException e) when (e.InnerException is not null)
                {
                    ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                }
            });
            if (!run.Wait(limit)) return new SnippetRun(output.ToString(), new TimeoutException($"The snippet did not finish within {limit}."));
            return new SnippetRun(output.ToString(), null);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            return new SnippetRun(output.ToString(), e.InnerExceptions[0]);
        }
        finally
        {
            Console.SetOut(console);
            context.Unload();
        }
    }
}
