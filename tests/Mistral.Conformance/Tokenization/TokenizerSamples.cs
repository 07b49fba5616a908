namespace Mistral.Conformance.Tokenization;

/// <summary>The multilingual sample texts every tokenizer is checked on, with what each one exercises.</summary>
internal static class TokenizerSamples
{
    public static readonly string[] Texts =
    [
        "Bonjour, je m'appelle Jean-François et j'habite à Montréal depuis l'été dernier.",   // French: accents, apostrophes
        "Größere Straßen führen über die Brücke; ÄRGER und Übermäßig ÜBER alles.",            // German: ß, umlauts, capitals
        "¿Dónde está el niño? ¡Mañana iremos a la montaña con él!",                          // Spanish: inverted marks, ñ
        "for (int i = 0; i < n; i++) {\n    sum += a[i] * 2;\n}\nreturn sum;",               // code: indentation, operators
        "def f(x):\n\treturn x**2  # square\n",                                               // code: tabs, comments
        "I ❤️ Rust 🦀 and families 👨‍👩‍👧 too 🎉",                                              // emoji, ZWJ sequences, variation selector
        " leading space",
        "   three leading spaces",
        "multiple  spaces   between    words     here",
        "trailing spaces   ",
        "Pi is 3.14159, e is 2.71828 and 1234567890 is long; 2026-11-29.",                     // digits
        "line one\nline two\n\n\nline five\r\nwindows line",                                   // newlines, CRLF
        "Привет, мир! Καλημέρα κόσμε. 你好，世界。こんにちは",                                  // Cyrillic, Greek, CJK
        "[INST] Quelle est la capitale de la France ? [/INST]",                               // control-token text
        "<s>[INST]Hi[/INST]</s>",
        "a",
        " ",
        "\n",
        "",
        "MiXeD CaSe WoRdS and camelCaseIdentifiers and SCREAMING_SNAKE",
    ];
}
