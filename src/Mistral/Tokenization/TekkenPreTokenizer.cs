using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Mistral.Tokenization;

/// <summary>
/// Splits text into the words a Tekken ("gpt2" model, <c>tokenizer.ggml.pre = "tekken"</c>) vocabulary merges
/// within, exactly as llama.cpp does.
/// </summary>
/// <remarks>
/// <para>
/// Tekken's own pattern distinguishes upper- and lower-case letters with <c>\p{Lu}</c>/<c>\p{Ll}</c>. llama.cpp's
/// regex engine has no Unicode classes, so it (1) rewrites the pattern with "a letter that is not a-z" standing
/// for upper case and "a letter that is not A-Z" for lower case, and (2) runs it on a collapsed copy of the
/// text in which every ASCII character stays itself and every other code point becomes one stand-in character
/// for its class (whitespace, letter, number, punctuation, mark, symbol, other), with <c>\p{L}</c> and
/// <c>\p{N}</c> in the pattern widened to the stand-ins. A consequence that differs from Tekken's reference:
/// a non-ASCII letter counts as both cases, so "ÜBER" splits as "Ü" + "BER". We reproduce the collapsed
/// scheme (the oracle is llama.cpp, and the model files are converted for it), with .NET's backtracking regex
/// in place of std::regex; both are ECMAScript-style leftmost-first engines.
/// </para>
/// <para>Text between matches (the pattern covers everything, so in practice none) is kept as its own word.</para>
/// </remarks>
internal static class TekkenPreTokenizer
{
    // Stand-ins for non-ASCII code points, by class (the values llama.cpp uses, as chars).
    private const char Whitespace = '\u000B';
    private const char Other = '\u00D0';
    private const char Number = '\u00D1';
    private const char Letter = '\u00D2';
    private const char Punctuation = '\u00D3';
    private const char Mark = '\u00D4';
    private const char Symbol = '\u00D5';

    // llama.cpp's Tekken pattern with \p{L} = [<letter stand-in>A-Za-z] and \p{N} = [<number stand-in>0-9].
    private const string L = "\u00D2A-Za-z";
    private const string N = "\u00D10-9";
    private static readonly Regex Pattern = new(
        $"[^\\r\\n{L}{N}]?((?=[{L}])([^a-z]))*((?=[{L}])([^A-Z]))+"
        + $"|[^\\r\\n{L}{N}]?((?=[{L}])([^a-z]))+((?=[{L}])([^A-Z]))*"
        + $"|[{N}]"
        + $"| ?[^\\s{L}{N}]+[\\r\\n/]*"
        + "|\\s*[\\r\\n]+"
        + "|\\s+(?!\\S)"
        + "|\\s+",
        RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture);

    /// <summary>The words of <paramref name="text"/>, as (UTF-16 start, UTF-16 length) pairs in order.</summary>
    public static List<(int Start, int Length)> Split(ReadOnlySpan<char> text)
    {
        // One collapsed char per code point, and where each code point starts in the UTF-16 text.
        var collapsed = new StringBuilder(text.Length);
        var starts = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length;)
        {
            starts.Add(i);
            Rune.DecodeFromUtf16(text[i..], out var rune, out var consumed);
            collapsed.Append(Collapse(rune));
            i += consumed;
        }
        starts.Add(text.Length);

        var words = new List<(int, int)>();
        var previousEnd = 0; // in code points
        foreach (Match match in Pattern.Matches(collapsed.ToString()))
        {
            if (match.Index > previousEnd)
                words.Add(Span(previousEnd, match.Index));
            words.Add(Span(match.Index, match.Index + match.Length));
            previousEnd = match.Index + match.Length;
        }
        if (previousEnd < starts.Count - 1)
            words.Add(Span(previousEnd, starts.Count - 1));
        return words;

        (int, int) Span(int fromCodePoint, int toCodePoint) =>
            (starts[fromCodePoint], starts[toCodePoint] - starts[fromCodePoint]);
    }

    private static char Collapse(Rune rune)
    {
        if (rune.Value < 0x80)
            return (char)rune.Value;
        if (IsWhitespace(rune.Value))
            return Whitespace;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Number,
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => Punctuation,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => Mark,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
                or UnicodeCategory.OtherSymbol => Symbol,
            _ => Other,
        };
    }

    // llama.cpp's whitespace set (the White_Space property), of which only these are outside ASCII.
    private static bool IsWhitespace(int cp) =>
        cp is 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;
}
