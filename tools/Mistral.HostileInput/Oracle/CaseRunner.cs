using System.Diagnostics;
using System.Text.RegularExpressions;
using Mistral.Gguf;
using Mistral.HostileInput.Mutations;

namespace Mistral.HostileInput.Oracle;

/// <summary>
/// Runs one mutated file through the library in this process and judges what happened: load, account for every tensor,
/// evaluate a short prompt and two decode steps, and for planted NaN/Inf also load with the weight scan.
/// </summary>
internal sealed partial class CaseRunner(MistralBackend backend)
{
    /// <summary>The prompt, tokenized by the file's own tokenizer (BOS as it says) so that its ids and pieces are exercised too.</summary>
    private const string PromptText = "Hi there";

    private const int PromptTokens = 3;

    private const int DecodeSteps = 2;

    private ModelOptions Options => new() { Threads = 1, ContextLength = 32, Backend = backend };

    /// <summary>Writes <paramref name="mutated"/> to <paramref name="path"/> and runs it.</summary>
    public CaseOutcome Run(string path, MutatedFile mutated)
    {
        File.WriteAllBytes(path, mutated.Bytes);
        CaseOutcome outcome;
        try
        {
            outcome = LoadAndEvaluate(path);
        }
        catch (Exception ex)
        {
            outcome = Classify(ex, path);
        }
        // Whatever the plain load made of planted NaN/Inf (even a refusal by another check), the scan must name it.
        if (!Outcomes.IsBad(outcome.Outcome) && mutated.NonFiniteTensors is { } planted) return CheckScan(path, planted) ?? outcome;
        return outcome;
    }

    private CaseOutcome LoadAndEvaluate(string path)
    {
        using var model = MistralModel.Load(path, Options);
        string? dropped;
        using (var file = GgufFile.Open(path)) dropped = TensorAccounting.FindSilentDrop(file, model.Config.LayerCount);
        if (dropped is not null) return new CaseOutcome(Outcomes.SilentDrop, dropped);

        using var session = model.CreateSession();
        var vocab = model.Config.VocabSize;
        var tokenizer = model.Tokenizer;
        var prompt = tokenizer.Encode(PromptText, tokenizer.AddBos).Take(PromptTokens).ToArray();
        if (prompt.Length == 0) prompt = [0]; // a vocabulary of empty pieces may encode the text as nothing
        var generated = new List<int>();
        try
        {
            var logits = session.Evaluate(prompt);
            for (var step = 0; ; step++)
            {
                if (FirstNonFinite(logits) is int at)
                {
                    return new CaseOutcome(Outcomes.SilentNonFinite,
                        $"Evaluate returned logit {at} = {logits[at]} at step {step} (position {session.Position - 1}) without NonFiniteOutputException");
                }
                if (step == DecodeSteps) break;
                generated.Add(ArgMax(logits));
                logits = session.Evaluate([generated[^1]]);
            }
            tokenizer.Decode(prompt.Concat(generated).ToArray());
        }
        catch (NonFiniteOutputException ex)
        {
            return new CaseOutcome(Outcomes.NonFiniteDetected, Clean(ex.Message, path));
        }
        return new CaseOutcome(Outcomes.Loaded, $"{model.Config.LayerCount} layers, vocabulary {vocab}");
    }

    /// <summary>Null when the weight scan refuses the file naming a tensor that holds a planted NaN/Inf.</summary>
    private CaseOutcome? CheckScan(string path, IReadOnlyList<string> planted)
    {
        try
        {
            using var model = MistralModel.Load(path, Options with { ScanWeightsForNonFinite = true });
            return new CaseOutcome(Outcomes.ScanMissed, $"loaded with ScanWeightsForNonFinite although '{planted[0]}' holds NaN/Inf");
        }
        catch (GgufFormatException ex) when (planted.Any(name => ex.Message.Contains(name, StringComparison.Ordinal)))
        {
            return null;
        }
        catch (Exception ex)
        {
            return new CaseOutcome(Outcomes.ScanMissed,
                $"the scan threw {ex.GetType().Name} naming none of the tensors with NaN/Inf ({string.Join(", ", planted.Take(3))}): {Clean(ex.Message, path)}");
        }
    }

    /// <summary>
    /// The outcome of an exception: a refusal when its type is documented (GgufFormatException, NotSupportedException,
    /// InvalidDataException, MistralException and its subclasses, InsufficientMemoryException) and its message names
    /// something; VAGUE-MESSAGE when it names nothing; UNDOCUMENTED for any other type.
    /// </summary>
    public static CaseOutcome Classify(Exception ex, string path)
    {
        var message = Clean(ex.Message, path);
        var type = ex.GetType().Name;
        if (ex is NonFiniteOutputException) return new CaseOutcome(Outcomes.NonFiniteDetected, message);
        if (ex is not (GgufFormatException or NotSupportedException or InvalidDataException or MistralException or InsufficientMemoryException))
        {
            var frame = new StackTrace(ex).GetFrames().FirstOrDefault(f => f.GetMethod() is not null)?.GetMethod();
            var where = frame is null ? "" : $" at {frame.DeclaringType?.Name}.{frame.Name}";
            return new CaseOutcome(Outcomes.Undocumented, $"{type}{where}: {message}");
        }
        if (!NamesSomething(message)) return new CaseOutcome(Outcomes.VagueMessage, $"{type}: {message}");
        return new CaseOutcome(Outcomes.RefusedPrefix + type, message);
    }

    /// <summary>
    /// Whether a message points somewhere: a quoted name, a dotted key or tensor name, or a number (offset, size, id).
    /// Judged with the file's path taken out, since the path alone would always contain a dot and digits.
    /// </summary>
    public static bool NamesSomething(string message)
    {
        message = message.Replace("'<file>'", "", StringComparison.Ordinal).Replace("<file>", "", StringComparison.Ordinal);
        return !string.IsNullOrWhiteSpace(message)
            && (message.Contains('\'') || message.Contains('"') || DottedName().IsMatch(message) || message.Any(char.IsAsciiDigit));
    }

    [GeneratedRegex(@"[A-Za-z_]\w*\.\w+")]
    private static partial Regex DottedName();

    /// <summary>The message with the case file's path replaced by &lt;file&gt; (so messages compare across runs).</summary>
    public static string Clean(string message, string path) =>
        message.Replace(Path.GetFullPath(path), "<file>", StringComparison.Ordinal).Replace(path, "<file>", StringComparison.Ordinal);

    private static int? FirstNonFinite(float[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i])) return i;
        }
        return null;
    }

    private static int ArgMax(float[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best]) best = i;
        }
        return best;
    }
}
