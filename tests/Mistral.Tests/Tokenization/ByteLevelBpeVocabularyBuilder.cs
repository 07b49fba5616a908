using System.Text;

namespace Mistral.Tests.Tokenization;

/// <summary>
/// Builds a small Tekken-shaped byte-level BPE vocabulary by actually training merges on sample texts:
/// control tokens first (as Tekken files have them), then the 256 characters of the byte-level alphabet (so any
/// text can be spelled), then one token per learned merge. Training is plain BPE over words split before each
/// space: repeatedly merge the most frequent adjacent pair (ties by ordinal order). Shared with the llama.cpp
/// conformance project, which links this file.
/// </summary>
internal static class ByteLevelBpeVocabularyBuilder
{
    public static readonly string[] ControlTokens = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"];

    /// <summary>The vocabulary spelling of a byte (GPT-2's byte-to-unicode table, written out independently).</summary>
    public static char ByteChar(int b)
    {
        if (b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF)
            return (char)b;
        var n = 0;
        for (var i = 0; i < b; i++)
        {
            if (!(i is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF))
                n++;
        }
        return (char)(256 + n);
    }

    public static (string[] Tokens, int[] Types, string[] Merges) Build(IEnumerable<string> samples, int mergeCount)
    {
        var tokens = new List<string>(ControlTokens);
        var types = new List<int>(ControlTokens.Select(_ => 3));
        for (var b = 0; b < 256; b++)
        {
            tokens.Add(ByteChar(b).ToString());
            types.Add(1);
        }

        // Words: each sample split before every space, spelled in the byte alphabet, as lists of symbols.
        var words = new List<List<string>>();
        foreach (var sample in samples)
        {
            foreach (var word in SplitBeforeSpaces(sample))
                words.Add([.. Encoding.UTF8.GetBytes(word).Select(b => ByteChar(b).ToString())]);
        }

        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        var merges = new List<string>();
        while (merges.Count < mergeCount)
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (var w in words)
            {
                for (var i = 0; i + 1 < w.Count; i++)
                    counts[(w[i], w[i + 1])] = counts.GetValueOrDefault((w[i], w[i + 1])) + 1;
            }
            if (counts.Count == 0)
                break;
            var best = counts.OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal).First().Key;
            merges.Add(best.Item1 + " " + best.Item2);
            var merged = best.Item1 + best.Item2;
            if (seen.Add(merged))
            {
                tokens.Add(merged);
                types.Add(1);
            }
            foreach (var w in words)
            {
                for (var i = 0; i + 1 < w.Count; i++)
                {
                    if (w[i] == best.Item1 && w[i + 1] == best.Item2)
                    {
                        w[i] = merged;
                        w.RemoveAt(i + 1);
                    }
                }
            }
        }
        return ([.. tokens], [.. types], [.. merges]);
    }

    private static IEnumerable<string> SplitBeforeSpaces(string text)
    {
        var start = 0;
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] == ' ' && text[i - 1] != ' ')
            {
                yield return text[start..i];
                start = i;
            }
        }
        if (start < text.Length)
            yield return text[start..];
    }
}
