using System.Text;

namespace Mistral.Tokenization;

/// <summary>
/// The GPT-2 byte-level alphabet that "gpt2"-style vocabularies (Tekken included) are written in: every byte
/// value is one printable character, so any UTF-8 text has a spelling in vocabulary strings. Bytes that are
/// already printable and not whitespace (<c>!</c>..<c>~</c>, <c>¡</c>..<c>¬</c>, <c>®</c>..<c>ÿ</c>) stand for
/// themselves; the other 68 (controls, space, DEL, NBSP, soft hyphen …) map in byte order to U+0100 onwards,
/// which is why a space is written <c>Ġ</c> (U+0120) and a newline <c>Ċ</c> (U+010A).
/// </summary>
internal static class ByteLevelEncoding
{
    private static readonly char[] ByteToChar = BuildTable();
    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    /// <summary>The vocabulary spelling of UTF-8 bytes: one character per byte.</summary>
    public static string Encode(ReadOnlySpan<byte> utf8)
    {
        return string.Create(utf8.Length, utf8.ToArray(), static (chars, bytes) =>
        {
            for (var i = 0; i < bytes.Length; i++)
                chars[i] = ByteToChar[bytes[i]];
        });
    }

    /// <summary>
    /// The bytes a vocabulary string stands for. A character outside the alphabet (only a malformed vocabulary
    /// has one) contributes its own UTF-8 bytes, so decoding never fails or loses text.
    /// </summary>
    public static byte[] Decode(string text)
    {
        var bytes = new List<byte>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.IsBmp && CharToByte.TryGetValue((char)rune.Value, out var b))
            {
                bytes.Add(b);
                continue;
            }
            var n = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < n; i++)
                bytes.Add(utf8[i]);
        }
        return [.. bytes];
    }

    /// <summary>The alphabet's character for one byte (e.g. 0x20 → <c>Ġ</c>).</summary>
    public static char ForByte(byte value) => ByteToChar[value];

    private static char[] BuildTable()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
