namespace Mistral.HostileInput.Oracle;

/// <summary>What happened to one case, and the first line of what the library said.</summary>
internal sealed record CaseOutcome(string Outcome, string Message);

/// <summary>The outcomes a case can have (see README.md for what each means).</summary>
internal static class Outcomes
{
    /// <summary>Loaded, every tensor accounted for, and the logits of every step finite.</summary>
    public const string Loaded = "LOADED";

    /// <summary>Loaded, and evaluation threw <see cref="NonFiniteOutputException"/> (and, for the NaN/Inf kinds, the weight scan named the tensor).</summary>
    public const string NonFiniteDetected = "NONFINITE-DETECTED";

    /// <summary>Refused with a documented exception whose message names the key, tensor or offset; the type name follows.</summary>
    public const string RefusedPrefix = "REFUSED-";

    public const string Abort = "ABORT";
    public const string Hang = "HANG";
    public const string SilentDrop = "SILENT-DROP";
    public const string SilentNonFinite = "SILENT-NONFINITE";
    public const string ScanMissed = "SCAN-MISSED";
    public const string Undocumented = "UNDOCUMENTED";
    public const string VagueMessage = "VAGUE-MESSAGE";

    /// <summary>The campaign itself failed to build or run the case: a bug of this tool, not of the library.</summary>
    public const string ToolError = "TOOL-ERROR";

    /// <summary>The outcomes that fail a campaign, in the order the tables list them.</summary>
    public static IReadOnlyList<string> Bad { get; } = [Abort, Hang, SilentDrop, SilentNonFinite, ScanMissed, Undocumented, VagueMessage, ToolError];

    public static bool IsBad(string outcome) => Bad.Contains(outcome);

    /// <summary>Whether the library noticed something wrong with the file (the mutation "bit").</summary>
    public static bool Bites(string outcome) => outcome.StartsWith(RefusedPrefix, StringComparison.Ordinal) || outcome == NonFiniteDetected;

    /// <summary>Table order: loaded, detected, refusals by name, then the bad outcomes.</summary>
    public static int Order(string outcome) => outcome switch
    {
        Loaded => 0,
        NonFiniteDetected => 1,
        _ when outcome.StartsWith(RefusedPrefix, StringComparison.Ordinal) => 2,
        _ => 3 + Bad.ToList().IndexOf(outcome),
    };
}
