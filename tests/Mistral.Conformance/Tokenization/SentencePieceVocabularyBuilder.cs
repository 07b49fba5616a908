namespace Mistral.Conformance.Tokenization;

/// <summary>
/// Builds a SentencePiece ("llama") vocabulary rich enough to exercise merging, without training: control
/// tokens, the 256 byte-fallback tokens, every printable character of the sample texts, then every 2- to
/// 4-character substring that occurs at least twice, scored by how often it occurs (so many pieces share a
/// score and llama.cpp's leftmost-on-ties rule is exercised too). Emoji and control characters get no piece
/// of their own, so they go through byte fallback.
/// </summary>
internal static class SentencePieceVocabularyBuilder
{
    public static (string[] Tokens, float[] Scores, int[] Types) Build(IEnumerable<string> samples)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>", "[INST]", "[/INST]" };
        var types = new List<int> { 2, 3, 3, 3, 3 };
        var scores = new List<float> { 0, 0, 0, 0, 0 };
        for (var b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            types.Add(6);
            scores.Add(0);
        }

        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        // Each sample as SentencePiece sees it: dummy-prefix space, spaces escaped.
        var escaped = samples.Select(s => ("▁" + s).Replace(' ', '▁')).ToArray();

        foreach (var text in escaped)
        {
            foreach (var rune in text.EnumerateRunes())
            {
                var piece = rune.ToString();
                if (rune.Value >= 0x20 && rune.Value < 0x2000 && seen.Add(piece))
                {
                    tokens.Add(piece);
                    types.Add(1);
                    scores.Add(-1000);
                }
            }
        }

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in escaped)
        {
            for (var length = 2; length <= 4; length++)
            {
                for (var i = 0; i + length <= text.Length; i++)
                {
                    var gram = text.Substring(i, length);
                    if (gram.Any(c => c < 0x20 || char.IsSurrogate(c) || c >= 0x2000 && c != '▁'))
                        continue;
                    counts[gram] = counts.GetValueOrDefault(gram) + 1;
                }
            }
        }
        foreach (var (gram, count) in counts.Where(kv => kv.Value >= 2).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (seen.Add(gram))
            {
                tokens.Add(gram);
                types.Add(1);
                scores.Add(count);
            }
        }
        return ([.. tokens], [.. scores], [.. types]);
    }
}
