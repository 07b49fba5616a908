using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Mistral.Chat;
using Mistral.Gguf;
using Mistral.Interop;
using Mistral.Tokenization;

namespace Mistral;

/// <summary>
/// A Mistral-family model loaded from a GGUF file. The file is memory-mapped and the weights are read
/// in place. Thread-safe: many sessions may run on one model at once, each on its own thread.
/// </summary>
/// <example><code>
/// using var model = MistralModel.Load("mistral-7b-instruct-v0.2.Q4_0.gguf");
/// Console.WriteLine(model.Generate("The capital of France is", GenerationOptions.Greedy(16)));
/// </code></example>
public sealed class MistralModel : IDisposable
{
    private readonly MstModelHandle _handle;
    private readonly ModelOptions _options;

    private MistralModel(string path, MstModelHandle handle, ModelConfig config, MistralTokenizer tokenizer, ModelOptions options)
    {
        Path = path;
        _handle = handle;
        Config = config;
        Tokenizer = tokenizer;
        _options = options;
    }

    /// <summary>The file the model was loaded from.</summary>
    public string Path { get; }

    /// <summary>The model's hyper-parameters.</summary>
    public ModelConfig Config { get; }

    /// <summary>The tokenizer stored in the model file.</summary>
    public MistralTokenizer Tokenizer { get; }

    /// <summary>The prompt format <see cref="MistralSession.Chat"/> uses (from <see cref="ModelOptions.ChatTemplate"/> or the file).</summary>
    public ChatTemplate ChatTemplate { get; private init; } = ChatTemplate.V1;

    /// <summary>The native backend running this model (Cpu or Cuda; never Auto).</summary>
    public MistralBackend Backend { get; private init; }

    /// <summary>The native library file running this model (which package or build it came from).</summary>
    public string NativeLibraryPath => NativeLibraryLoader.LoadedFrom ?? string.Empty;

    internal ILogger? Logger => _options.Logger;

    /// <summary>Loads a model from a GGUF file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="GgufFormatException">The file is not a valid GGUF file, or lacks what a model needs.</exception>
    /// <exception cref="NotSupportedException">The file uses an architecture, tokenizer or tensor type this version cannot run.</exception>
    /// <exception cref="MistralNativeLibraryException">The native core could not be loaded.</exception>
    public static unsafe MistralModel Load(string path, ModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new ModelOptions();
        options.Validate();
        if (!File.Exists(path)) throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        var started = Stopwatch.GetTimestamp();
        var progress = options.Progress;
        progress?.Report(0);
        var backend = NativeLibraryLoader.EnsureLoaded(options.Backend, options.Logger);

        var file = GgufFile.Open(path);
        try
        {
            var config = ModelConfig.FromGguf(file);
            MistralTokenizer tokenizer;
            try
            {
                tokenizer = MistralTokenizer.FromGguf(file);
            }
            catch (InvalidDataException ex)
            {
                // One exception type for "the file is bad", whichever part of it is.
                throw new GgufFormatException($"{path}: the tokenizer metadata is invalid: {ex.Message}", ex);
            }
            if (tokenizer.VocabSize != config.VocabSize)
            {
                throw new GgufFormatException(
                    $"{path}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {config.VocabSize}.");
            }
            progress?.Report(0.2);
            var tensors = ModelTensorTable.Build(file, config);
            progress?.Report(0.5);
            var nativeConfig = ToNative(config);
            MstModelHandle handle;
            fixed (mst_tensor_desc* table = tensors)
            {
                NativeStatus.Check(NativeMethods.mst_model_create(&nativeConfig, table, (uint)tensors.Length, out handle), $"Loading '{path}'");
            }
            handle.WeightsOwner = file; // the mapping now lives exactly as long as the native model
            var template = options.ChatTemplate == ChatTemplateKind.Auto
                ? ChatTemplate.Detect(file.GetString("tokenizer.chat_template"), tokenizer)
                : ChatTemplate.FromKind(options.ChatTemplate);
            progress?.Report(1);
            options.Logger?.LogInformation("Loaded {Path}: {Layers} layers, {Embedding} wide, vocabulary {Vocab}, {Tensors} tensors, backend {Backend}, chat template {Template}, in {Milliseconds:F0} ms",
                path, config.LayerCount, config.EmbeddingLength, config.VocabSize, tensors.Length, backend, template.Kind, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return new MistralModel(path, handle, config, tokenizer, options) { ChatTemplate = template, Backend = backend };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Creates a session: a conversation with its own KV cache and threads.</summary>
    public MistralSession CreateSession(SessionOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var contextLength = options?.ContextLength ?? (_options.ContextLength > 0 ? _options.ContextLength : Math.Min(Config.TrainedContextLength, 4096));
        var threads = options?.Threads ?? _options.Threads;
        var batch = options?.BatchSize ?? _options.BatchSize;
        if (contextLength <= 0) throw new ArgumentOutOfRangeException(nameof(options), contextLength, "SessionOptions.ContextLength must be positive.");
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(options), threads, "SessionOptions.Threads must be 0 (one per processor) or positive.");
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(options), batch, "SessionOptions.BatchSize must be positive.");
        return new MistralSession(this, _handle, contextLength, threads, Math.Min(batch, contextLength));
    }

    /// <summary>Generates text for a prompt in a fresh session.</summary>
    public string Generate(string prompt, GenerationOptions? options = null)
    {
        using var session = CreateSession();
        return session.Generate(prompt, options);
    }

    /// <summary>Streams generated text for a prompt in a fresh session.</summary>
    public async IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var session = CreateSession();
        await foreach (var piece in session.GenerateAsync(prompt, options, cancellationToken).ConfigureAwait(false))
            yield return piece;
    }

    /// <summary>
    /// Releases the model. Sessions still open keep the weights alive until they are disposed too.
    /// </summary>
    public void Dispose() => _handle.Dispose();

    private static unsafe mst_model_config ToNative(ModelConfig c) => new()
    {
        struct_size = (uint)sizeof(mst_model_config),
        n_vocab = (uint)c.VocabSize,
        n_embd = (uint)c.EmbeddingLength,
        n_layer = (uint)c.LayerCount,
        n_head = (uint)c.HeadCount,
        n_head_kv = (uint)c.KvHeadCount,
        head_dim = (uint)c.HeadDim,
        n_ff = (uint)c.FeedForwardLength,
        n_ctx_train = (uint)c.TrainedContextLength,
        sliding_window = (uint)c.SlidingWindow,
        rope_freq_base = c.RopeFreqBase,
        rms_norm_eps = c.RmsNormEps,
        n_expert = (uint)c.ExpertCount,
        n_expert_used = (uint)c.ExpertUsedCount,
        layer_windows = null, // GGUF "llama" files carry one window for every layer
    };
}
