namespace Mistral.Tokenization;

/// <summary>
/// The kind of a vocabulary entry, with the numeric values GGUF stores in <c>tokenizer.ggml.token_type</c>
/// (the same values as SentencePiece's <c>ModelProto.SentencePiece.Type</c>).
/// </summary>
public enum TokenType
{
    /// <summary>No type recorded. Rendered as nothing, never produced from text except by merging.</summary>
    Undefined = 0,

    /// <summary>An ordinary piece; <c>▁</c> (U+2581) in its text stands for a space.</summary>
    Normal = 1,

    /// <summary>The unknown-token placeholder (<c>&lt;unk&gt;</c>).</summary>
    Unknown = 2,

    /// <summary>A control token such as <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c> or <c>[INST]</c>.</summary>
    Control = 3,

    /// <summary>A user-defined piece: always split out of text before tokenization and rendered verbatim.</summary>
    UserDefined = 4,

    /// <summary>A reserved, unused entry. Rendered as nothing.</summary>
    Unused = 5,

    /// <summary>A byte-fallback token <c>&lt;0xXX&gt;</c> standing for one raw UTF-8 byte.</summary>
    Byte = 6,
}

/// <summary>
/// The plain data a SentencePiece-style ("llama") tokenizer is built from: what a GGUF file stores under
/// <c>tokenizer.ggml.*</c>. Kept free of any file format so that tokenizers can be built by hand (tests)
/// or from any source.
/// </summary>
public sealed class TokenizerVocabulary
{
    /// <summary>Token texts, indexed by token id (<c>tokenizer.ggml.tokens</c>).</summary>
    public required IReadOnlyList<string> Tokens { get; init; }

    /// <summary>
    /// Merge scores, one per token (<c>tokenizer.ggml.scores</c>); higher merges first.
    /// <see langword="null"/> means every score is 0, as llama.cpp assumes when the key is absent.
    /// </summary>
    public IReadOnlyList<float>? Scores { get; init; }

    /// <summary>
    /// Token types as GGUF integers (<c>tokenizer.ggml.token_type</c>, see <see cref="TokenType"/>).
    /// <see langword="null"/> means every token is <see cref="TokenType.Normal"/>, as llama.cpp assumes.
    /// </summary>
    public IReadOnlyList<int>? TokenTypes { get; init; }

    /// <summary>Beginning-of-sequence id; -1 for none. Defaults to 1 (llama.cpp's SPM default).</summary>
    public int BosId { get; init; } = 1;

    /// <summary>End-of-sequence id; -1 for none. Defaults to 2 (llama.cpp's SPM default).</summary>
    public int EosId { get; init; } = 2;

    /// <summary>Unknown-token id; -1 for none. Defaults to 0 (llama.cpp's SPM default).</summary>
    public int UnkId { get; init; }

    /// <summary>Padding id; -1 (the default) for none.</summary>
    public int PadId { get; init; } = -1;

    /// <summary>Whether prompts should start with BOS (<c>tokenizer.ggml.add_bos_token</c>, default true); ignored when
    /// <see cref="BosId"/> is -1.</summary>
    public bool AddBos { get; init; } = true;

    /// <summary>Whether prompts should end with EOS (<c>tokenizer.ggml.add_eos_token</c>, default false); ignored when
    /// <see cref="EosId"/> is -1.</summary>
    public bool AddEos { get; init; }

    /// <summary>
    /// Whether a space is put in front of text before tokenizing it (<c>tokenizer.ggml.add_space_prefix</c>,
    /// SentencePiece's <c>add_dummy_prefix</c>; default true). Byte-level BPE vocabularies set it false.
    /// </summary>
    public bool AddSpacePrefix { get; init; } = true;

    /// <summary>The tokenizer model name (<c>tokenizer.ggml.model</c>): "llama" (SentencePiece) or "gpt2" (byte-level BPE).</summary>
    public string Model { get; init; } = "llama";

    /// <summary>
    /// tokenizer.ggml.merges of a "gpt2" vocabulary: "left right" in the byte-level alphabet, highest priority
    /// first. Required for "gpt2"; ignored for "llama".
    /// </summary>
    public IReadOnlyList<string>? Merges { get; init; }

    /// <summary>
    /// tokenizer.ggml.pre of a "gpt2" vocabulary: how text is split into words before merging. Only "tekken"
    /// (Mistral Nemo and later) is supported; ignored for "llama".
    /// </summary>
    public string? PreTokenizer { get; init; }
}
