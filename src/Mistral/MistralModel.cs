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

    /// <summary>The native backend running this model, as the native model reports it (Cpu or Cuda; never Auto).</summary>
    public MistralBackend Backend { get; private init; }

    /// <summary>
    /// What the model runs on: the GPU's name, compute capability, driver version and memory (or "SIMT emulator (CPU)"),
    /// or the CPU's model name. <c>BackendInfo.ToString()</c> is one line for logs.
    /// </summary>
    public BackendInfo BackendInfo { get; private init; } = null!;

    /// <summary>The native library file running this model (which package or build it came from).</summary>
    public string NativeLibraryPath => NativeLibraryLoader.LoadedFrom ?? string.Empty;

    internal ILogger? Logger => _options.Logger;

    /// <summary>Loads a model from a GGUF file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="GgufFormatException">The file is not a valid GGUF file, or lacks what a model needs (a
    /// vocabulary-only file, with no tensors, says so and names the file; read its tokenizer with
    /// <see cref="MistralTokenizer.FromGguf(GgufFile, ILogger?)"/>).</exception>
    /// <exception cref="NotSupportedException">The file uses an architecture, tokenizer or tensor type this version cannot run.</exception>
    /// <exception cref="MistralNativeLibraryException">The native core could not be loaded.</exception>
    /// <exception cref="MistralDeviceException">
    /// <see cref="ModelOptions.Backend"/> is Cuda and no usable NVIDIA driver or device is present (the message says what was
    /// looked for), or the GPU driver failed while the weights were uploaded.
    /// </exception>
    /// <exception cref="ModelMemoryException">The model with a session of the default settings would not fit in the memory
    /// available (<see cref="ModelOptions.CheckMemory"/>, <see cref="ModelOptions.MemoryLimitBytes"/>): checked before anything
    /// is allocated, with the numbers in the message and its properties.</exception>
    /// <exception cref="InsufficientMemoryException">An allocation failed all the same (or the check was off); for a GPU the message gives the bytes needed and free.</exception>
    public static unsafe MistralModel Load(string path, ModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new ModelOptions();
        options.Validate();
        if (!File.Exists(path)) throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        var started = Stopwatch.GetTimestamp();
        var progress = options.Progress;
        progress?.Report(0);
        NativeLibraryLoader.EnsureLoaded();
        var device = BackendSelection.Choose(options.Backend, options.Device, options.Logger, throwIfUnavailable: true);

        var file = GgufFile.Open(path);
        try
        {
            ThrowIfNoWeights(file, path);
            var config = ModelConfig.FromGguf(file);
            MistralTokenizer tokenizer;
            try
            {
                tokenizer = MistralTokenizer.FromGguf(file, options.Logger);
            }
            catch (InvalidDataException ex)
            {
                // One exception type for "the file is bad", whichever part of it is.
                throw new GgufFormatException($"{path}: the tokenizer metadata is invalid: {ex.Message}", ex);
            }
            if (tokenizer.VocabSize != config.VocabSize)
            {
                var source = file.TryGetValue($"{config.Architecture}.vocab_size", out _) ? $"{config.Architecture}.vocab_size" : "the rows of token_embd.weight";
                throw new GgufFormatException(
                    $"{path}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary ({source}) is {config.VocabSize}.");
            }
            progress?.Report(0.05);
            var tensors = ModelTensorTable.Build(file, config);
            if (options.ScanWeightsForNonFinite) NonFiniteWeightScan.ThrowIfAny(file, file.Tensors);
            progress?.Report(0.1);
            // Before anything is allocated: what the model and a default session take, against the memory there is.
            var memory = new MemoryCheck(ToNative(config), tensors, NativeModelParams(device, options), options, device);
            var loadEstimate = memory.ThrowIfModelDoesNotFit(path, DefaultSession(config, options, null));
            var (handle, backend) = Create(path, config, tensors, device, options);
            handle.WeightsOwner = file; // the mapping now lives exactly as long as the native model
            var template = options.ChatTemplate == ChatTemplateKind.Auto
                ? ChatTemplate.Detect(ReadChatTemplate(file, options.Logger), tokenizer)
                : ChatTemplate.FromKind(options.ChatTemplate);
            progress?.Report(1);
            options.Logger?.LogInformation("Loaded {Path}: {Layers} layers, {Embedding} wide, vocabulary {Vocab}, {Tensors} tensors, backend {Backend} ({Device}), chat template {Template}, in {Milliseconds:F0} ms",
                path, config.LayerCount, config.EmbeddingLength, config.VocabSize, tensors.Length, backend, device.DeviceName, template.Kind, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return new MistralModel(path, handle, config, tokenizer, options) { ChatTemplate = template, Backend = backend, BackendInfo = device, Memory = memory, LoadEstimate = loadEstimate };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The native model on the chosen backend. Loading progress from the native side (for CUDA, mostly the weights'
    /// upload) fills 0.1 to 0.95 of <see cref="ModelOptions.Progress"/>; the rest is the managed work around it.
    /// </summary>
    private static unsafe (MstModelHandle Handle, MistralBackend Backend) Create(string path, ModelConfig config, mst_tensor_desc[] tensors, BackendInfo device, ModelOptions options)
    {
        var nativeConfig = ToNative(config);
        var modelParams = NativeModelParams(device, options);
        using var progress = NativeProgress.For(options.Progress, 0.1, 0.95);
        progress?.Attach(ref modelParams);
        MstModelHandle handle;
        mst_status status;
        fixed (mst_tensor_desc* table = tensors)
        {
            status = NativeMethods.mst_model_create_with(&nativeConfig, table, (uint)tensors.Length, &modelParams, out handle);
        }
        if (status != mst_status.MST_OK)
        {
            // Read the native message before anything else can call into the library on this thread.
            var error = NativeStatus.ToException(status, $"Loading '{path}' on {DescribeTarget(device)}");
            handle.Dispose();
            // The config and the table came from the file and were checked here first, so a table the core refuses is
            // still the file's fault: one exception type for "the file is bad".
            if (status == mst_status.MST_ERR_INVALID_ARGUMENT) throw new GgufFormatException(error.Message, error);
            throw error;
        }
        try
        {
            progress?.ThrowIfFailed();
            return (handle, NativeBackend(handle));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static unsafe mst_model_params NativeModelParams(BackendInfo device, ModelOptions options)
    {
        var cuda = device.Backend == MistralBackend.Cuda;
        return new mst_model_params
        {
            struct_size = (uint)sizeof(mst_model_params),
            backend = (int)(cuda ? mst_backend_kind.MST_BACKEND_CUDA : mst_backend_kind.MST_BACKEND_CPU),
            device = cuda ? device.Device : 0,
            flags = cuda ? BackendSelection.FlagsFor(options.Backend) : 0,
        };
    }

    /// <summary>
    /// What the model and one session take, estimated from the file's header and tensor table alone (nothing is
    /// allocated, no weight is read): on the CPU the repacked weights, the KV cache and the scratch in host memory, and the
    /// weights read in place from the mapped file; on CUDA the device memory too. <paramref name="session"/> as
    /// <see cref="CreateSession"/> would take it (null: the default session of <paramref name="options"/>).
    /// <see cref="Load"/> makes the same estimate and refuses a model that does not fit (<see cref="ModelOptions.CheckMemory"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="GgufFormatException">The file is not a valid GGUF model.</exception>
    /// <exception cref="NotSupportedException">The file uses an architecture or tensor type this version cannot run, or
    /// the session asks for a KV cache type the backend cannot hold.</exception>
    /// <exception cref="MistralDeviceException"><see cref="ModelOptions.Backend"/> is Cuda and no usable GPU is present.</exception>
    public static MemoryEstimate EstimateMemory(string path, ModelOptions? options = null, SessionOptions? session = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new ModelOptions();
        options.Validate();
        if (!File.Exists(path)) throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        NativeLibraryLoader.EnsureLoaded();
        var device = BackendSelection.Choose(options.Backend, options.Device, options.Logger, throwIfUnavailable: true);
        using var file = GgufFile.Open(path);
        ThrowIfNoWeights(file, path);
        var config = ModelConfig.FromGguf(file);
        var tensors = ModelTensorTable.Build(file, config);
        return new MemoryCheck(ToNative(config), tensors, NativeModelParams(device, options), options, device)
            .Estimate(DefaultSession(config, options, session));
    }

    /// <summary>The context length of a session that does not set one.</summary>
    private static int DefaultContextLength(ModelConfig config, ModelOptions options) =>
        options.ContextLength > 0 ? options.ContextLength : Math.Min(config.TrainedContextLength, 4096);

    /// <summary>A session's settings as <see cref="CreateSession"/> resolves them, for an estimate (no validation, no warning).</summary>
    private static MistralSession.NativeSettings DefaultSession(ModelConfig config, ModelOptions options, SessionOptions? session)
    {
        var contextLength = session?.ContextLength ?? DefaultContextLength(config, options);
        var threads = Math.Min(session?.Threads ?? options.Threads, Environment.ProcessorCount);
        var batch = session?.BatchSize ?? options.BatchSize;
        return new MistralSession.NativeSettings(contextLength, threads, Math.Min(batch, Math.Max(contextLength, 1)),
            session?.KvCacheType ?? KvCacheType.F16, false);
    }

    /// <summary>The memory check this model was loaded with, and its estimate of the default session.</summary>
    private MemoryCheck? Memory { get; init; }

    private MemoryEstimate? LoadEstimate { get; init; }

    private static string DescribeTarget(BackendInfo device) =>
        device.Backend != MistralBackend.Cuda ? "the CPU"
        : device.IsEmulated ? "the CUDA backend (SIMT emulator)"
        : $"CUDA device {device.Device} ({device.DeviceName})";

    private static unsafe MistralBackend NativeBackend(MstModelHandle handle)
    {
        int backend;
        NativeStatus.Check(NativeMethods.mst_model_backend(handle, &backend), "Reading the model's backend");
        return backend == (int)mst_backend_kind.MST_BACKEND_CUDA ? MistralBackend.Cuda : MistralBackend.Cpu;
    }

    /// <summary>Creates a session: a conversation with its own KV cache and threads.</summary>
    public MistralSession CreateSession(SessionOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var contextLength = options?.ContextLength ?? DefaultContextLength(Config, _options);
        var threads = options?.Threads ?? _options.Threads;
        var batch = options?.BatchSize ?? _options.BatchSize;
        if (contextLength <= 0) throw new ArgumentOutOfRangeException(nameof(options), contextLength, "SessionOptions.ContextLength must be positive.");
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(options), threads, "SessionOptions.Threads must be 0 (one per processor) or positive.");
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(options), batch, "SessionOptions.BatchSize must be positive.");
        threads = CapThreads(threads);
        var kvType = options?.KvCacheType ?? KvCacheType.F16;
        if (!Enum.IsDefined(kvType)) throw new ArgumentOutOfRangeException(nameof(options), kvType, "SessionOptions.KvCacheType must be F16 or F32.");
        var settings = new MistralSession.NativeSettings(contextLength, threads, Math.Min(batch, contextLength), kvType, options?.DiagnoseNonFinite ?? false);
        if (LoadEstimate is { } loaded) Memory?.ThrowIfSessionDoesNotFit(settings, loaded);
        return new MistralSession(this, _handle, settings);
    }

    /// <summary>
    /// More threads than the processors this process may use (affinity and container quota, as
    /// <see cref="Environment.ProcessorCount"/> counts them) only make threads wait on each other: on 2 cores, 64 threads
    /// decoded 7,000 times slower than 2. Such a request is capped, with a warning saying so.
    /// </summary>
    private int CapThreads(int threads)
    {
        var usable = Environment.ProcessorCount;
        if (threads <= usable) return threads;
        Logger?.LogWarning("{Requested} threads were asked for, but this process may run on {Usable} processors: using {Usable} (more would only wait on each other)",
            threads, usable, usable);
        return usable;
    }

    /// <summary>Generates text for a prompt in a fresh session.</summary>
    public string Generate(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var session = CreateSession();
        return session.Generate(prompt, options, cancellationToken);
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

    // llama.cpp ships vocabulary-only files (e.g. ggml-vocab-llama-spm.gguf) that carry the tokenizer and often the
    // hyper-parameters but no tensors. Checked before anything else, so that such a file is named for what it is
    // rather than reported as missing its first tensor (or a hyper-parameter it never meant to have).
    private static void ThrowIfNoWeights(GgufFile file, string path)
    {
        if (file.Tensors.Count > 0) return;
        var what = file.TryGetValue("tokenizer.ggml.tokens", out _)
            ? "holds a vocabulary but no weights (no tensors): it can be used to tokenize (MistralTokenizer.FromGguf, `mistral tokenize`), not to run the model"
            : "holds no weights (no tensors)";
        throw new GgufFormatException($"{path} {what}.");
    }

    // llama.cpp hands the template over as its string form whatever the key's type, so a non-string value is not a
    // reason to refuse the model; no Mistral format can be recognised in it, so it is treated as absent.
    private static string? ReadChatTemplate(GgufFile file, ILogger? logger)
    {
        const string key = "tokenizer.chat_template";
        if (!file.TryGetValue(key, out var value)) return null;
        if (value.Type == GgufValueType.String) return value.AsString();
        logger?.LogDebug("{Key} is a {Type}, not a string; the chat format is chosen from the tokenizer instead", key, value.Type);
        return null;
    }

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
