using System.Globalization;
using System.Text;
using Mistral.Gguf;

namespace Mistral.Tests.Chat;

/// <summary>
/// A model file whose greedy (and any reasonably sampled) output follows a plan: "after token A comes token B". A
/// random-weight model never writes a tool call on its own, so the end-to-end tool tests build one that must.
/// </summary>
/// <remarks>
/// How: every layer's weights are zero, so each layer adds nothing to the residual stream and the last hidden state
/// is the current token's embedding. Each token that has a planned successor gets a one-hot embedding in a dimension
/// of its own; after RMSNorm that is √embd at that dimension; the output row of its successor has
/// <see cref="Strength"/> there, so the successor's logit is √embd·Strength (80 here) and every other logit is 0. Tokens
/// without a plan embed to zero and give all-zero logits. Only the file's weights are special: the native forward pass,
/// the tokenizer (V3 control tokens, SentencePiece; or, with <see cref="PlannedVocabulary.TekkenV11"/>, a Tekken
/// byte-level vocabulary with V11's control tokens) and the chat template are the ones real files use. Built with the
/// library's public GGUF writer only, so the server tests compile this file too.
/// </remarks>
internal sealed class PlannedModel : IDisposable
{
    private const int Embedding = 64;
    private const float Strength = 10f;

    /// <summary>The control tokens of Mistral's v3 vocabulary that chat and tools use, after unk/bos/eos and the bytes.</summary>
    public static readonly string[] ControlTokens =
        ["[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"];

    private readonly string _directory = Directory.CreateTempSubdirectory("mistral-planned-").FullName;

    /// <summary>The control tokens a Tekken V11 vocabulary adds to <see cref="ControlTokens"/> (V7's and V11's).</summary>
    public static readonly string[] TekkenV11ControlTokens = ["[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]", "[ARGS]", "[CALL_ID]"];

    /// <param name="pieces">Text pieces of the vocabulary besides the letters (the plan's pieces).</param>
    /// <param name="plan">Successor of each token, by piece text (control tokens, "&lt;/s&gt;" for EOS, or pieces).</param>
    /// <param name="vocabulary">SentencePiece with V3's control tokens (Mistral 7B v0.3), or Tekken with V11's (Mistral Small 3.2).</param>
    public PlannedModel(IReadOnlyList<string> pieces, IReadOnlyList<(string After, string Next)> plan, PlannedVocabulary vocabulary = PlannedVocabulary.SentencePieceV3)
    {
        var tekken = vocabulary == PlannedVocabulary.TekkenV11;
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { 2, 3, 3 };
        // The plan names tokens by their text; a byte-level vocabulary stores that text in GPT-2's byte alphabet.
        var id = new Dictionary<string, int>(StringComparer.Ordinal) { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        void AddToken(string text, string stored, int type)
        {
            id.TryAdd(text, tokens.Count);
            tokens.Add(stored);
            types.Add(type);
        }
        for (var b = 0; b < 256; b++)
        {
            if (tekken) AddToken(b < 0x80 ? ((char)b).ToString() : ByteLevel([(byte)b]), ByteLevel([(byte)b]), 1);
            else AddToken(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"), string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"), 6);
        }
        string[] controls = tekken ? [.. ControlTokens, .. TekkenV11ControlTokens] : ControlTokens;
        foreach (var control in controls) AddToken(control, control, 3);
        var letters = "abcdefghijklmnopqrstuvwxyz".Select(c => c.ToString());
        foreach (var piece in (tekken ? letters : new[] { "\u2581" }.Concat(letters)).Concat(pieces))
        {
            if (!id.ContainsKey(piece)) AddToken(piece, tekken ? ByteLevel(Encoding.UTF8.GetBytes(piece)) : piece, 1);
        }
        var vocab = tokens.Count;
        if (plan.Count > Embedding) throw new ArgumentException($"At most {Embedding} planned steps.", nameof(plan));

        var embeddings = new float[vocab * Embedding];
        var output = new float[vocab * Embedding];
        for (var step = 0; step < plan.Count; step++)
        {
            var (after, next) = plan[step];
            embeddings[(id[after] * Embedding) + step] = 1f;
            output[(id[next] * Embedding) + step] = Strength;
        }

        var writer = new GgufWriter();
        writer.Add("general.architecture", "llama");
        writer.Add("general.name", "planned");
        writer.Add("llama.vocab_size", (uint)vocab);
        writer.Add("llama.context_length", 1024u);
        writer.Add("llama.embedding_length", (uint)Embedding);
        writer.Add("llama.block_count", 1u);
        writer.Add("llama.feed_forward_length", 96u);
        writer.Add("llama.attention.head_count", 4u);
        writer.Add("llama.attention.head_count_kv", 2u);
        writer.Add("llama.rope.dimension_count", 16u);
        writer.Add("llama.rope.freq_base", 10000f);
        writer.Add("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        if (tekken)
        {
            // No merges: a pre-tokenized word that is a whole vocabulary entry is one token, anything else its bytes.
            writer.Add("tokenizer.ggml.model", "gpt2");
            writer.Add("tokenizer.ggml.pre", "tekken");
            writer.Add("tokenizer.ggml.merges", Array.Empty<string>());
        }
        else
        {
            writer.Add("tokenizer.ggml.model", "llama");
        }
        writer.Add("tokenizer.ggml.tokens", tokens.ToArray());
        // Longer pieces score higher, so the plan's pieces win over letters when prompt text is tokenized.
        writer.Add("tokenizer.ggml.scores", tokens.Select(t => (float)t.Length).ToArray());
        writer.Add("tokenizer.ggml.token_type", types.ToArray());
        writer.Add("tokenizer.ggml.bos_token_id", 1u);
        writer.Add("tokenizer.ggml.eos_token_id", 2u);
        writer.Add("tokenizer.ggml.unknown_token_id", 0u);
        writer.Add("tokenizer.ggml.add_bos_token", true);
        writer.Add("tokenizer.ggml.add_eos_token", false);

        Add(writer, "token_embd.weight", [Embedding, vocab], embeddings);
        Add(writer, "output_norm.weight", [Embedding], Ones(Embedding));
        Add(writer, "output.weight", [Embedding, vocab], output);
        Add(writer, "blk.0.attn_norm.weight", [Embedding], Ones(Embedding));
        Add(writer, "blk.0.attn_q.weight", [Embedding, Embedding], new float[Embedding * Embedding]);
        Add(writer, "blk.0.attn_k.weight", [Embedding, 32], new float[Embedding * 32]);
        Add(writer, "blk.0.attn_v.weight", [Embedding, 32], new float[Embedding * 32]);
        Add(writer, "blk.0.attn_output.weight", [Embedding, Embedding], new float[Embedding * Embedding]);
        Add(writer, "blk.0.ffn_norm.weight", [Embedding], Ones(Embedding));
        Add(writer, "blk.0.ffn_gate.weight", [Embedding, 96], new float[Embedding * 96]);
        Add(writer, "blk.0.ffn_up.weight", [Embedding, 96], new float[Embedding * 96]);
        Add(writer, "blk.0.ffn_down.weight", [96, Embedding], new float[96 * Embedding]);
        Path = System.IO.Path.Combine(_directory, "planned.gguf");
        writer.Save(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // still mapped by a model not yet finalized: the OS cleans the temp folder
        }
    }

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();

    /// <summary>
    /// Bytes in GPT-2's byte-level alphabet, which "gpt2" vocabularies (Tekken's included) are written in: the printable
    /// Latin-1 bytes stand for themselves, the others for U+0100 onwards in byte order.
    /// </summary>
    private static string ByteLevel(byte[] bytes)
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
            map[b] = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE ? (char)b : (char)next++;
        return string.Concat(bytes.Select(b => map[b]));
    }

    private static void Add(GgufWriter writer, string name, long[] dims, float[] values) =>
        writer.AddTensor(name, GgmlType.F32, dims, GgmlQuantization.Quantize(GgmlType.F32, values));
}

/// <summary>The vocabulary a <see cref="PlannedModel"/> file carries.</summary>
internal enum PlannedVocabulary
{
    /// <summary>SentencePiece ("llama") with Mistral v3's control tokens: chat in the V3 format.</summary>
    SentencePieceV3,

    /// <summary>Tekken byte-level BPE ("gpt2", pre-tokenizer "tekken") with V11's control tokens too: chat in the TekkenV11 format.</summary>
    TekkenV11,
}
