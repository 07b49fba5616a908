using System.Runtime.CompilerServices;
using Mistral.Generation;
using Mistral.Interop;

namespace Mistral;

/// <summary>
/// One conversation with a model: a KV cache of <see cref="ContextLength"/> tokens and a thread pool.
/// Each call continues where the previous one stopped. A session serves one caller at a time; a second
/// thread calling while it works gets an <see cref="InvalidOperationException"/>.
/// </summary>
public sealed partial class MistralSession : IDisposable
{
    private readonly MstContextHandle _context;
    private readonly int _batchSize;
    private readonly float[] _lastLogits;
    private int _busy;
    private int? _pendingToken; // sampled and returned, not yet in the KV cache (see GenerationRun)
    private readonly List<int> _cached = []; // the ids in the KV cache, in order: what Chat compares a new history with

    /// <summary>What the native context is created with (the options resolved against the model's defaults).</summary>
    internal readonly record struct NativeSettings(int ContextLength, int Threads, int BatchSize, KvCacheType KvType, bool CheckLayers);

    internal MistralSession(MistralModel model, MstModelHandle modelHandle, NativeSettings settings)
    {
        Model = model;
        ContextLength = settings.ContextLength;
        KvCacheType = settings.KvType;
        _batchSize = settings.BatchSize;
        _lastLogits = new float[model.Config.VocabSize];
        _context = CreateContext(modelHandle, settings);
        (CacheSlots, PositionLimit) = ReadLimits(_context);
    }

    /// <summary>Element type of this session's KV cache.</summary>
    public KvCacheType KvCacheType { get; }

    /// <summary>The model this session runs.</summary>
    public MistralModel Model { get; }

    /// <summary>
    /// How many tokens the session's KV cache holds at most. For a sliding-window model whose window fits in
    /// it, the cache rolls instead (see <see cref="PositionLimit"/>): older tokens than the window drop out and
    /// generation can go on past this length.
    /// </summary>
    public int ContextLength { get; }

    /// <summary>
    /// KV-cache rows per layer the native core allocated: <see cref="ContextLength"/>, or for a rolling
    /// sliding-window cache min(ContextLength, window + batch size - 1), whatever the position reached.
    /// </summary>
    public int CacheSlots { get; }

    /// <summary>
    /// The most tokens the session can see: <see cref="ContextLength"/>, or <see cref="int.MaxValue"/> for a
    /// sliding-window model whose cache rolls (every layer windowed, window ≤ ContextLength).
    /// </summary>
    public int PositionLimit { get; }

    /// <summary>Tokens seen so far: the position the next token takes.</summary>
    public int Position
    {
        get
        {
            ObjectDisposedException.ThrowIf(_context.IsClosed, this);
            return NativePosition() + (_pendingToken is null ? 0 : 1);
        }
    }

    private static unsafe (int Slots, int Limit) ReadLimits(MstContextHandle context)
    {
        uint slots, limit;
        NativeStatus.Check(NativeMethods.mst_context_limits(context, &slots, &limit), "Reading the session limits");
        return ((int)Math.Min(slots, int.MaxValue), (int)Math.Min(limit, int.MaxValue));
    }

    private static unsafe MstContextHandle CreateContext(MstModelHandle model, NativeSettings settings)
    {
        var added = false;
        model.DangerousAddRef(ref added); // the context reads the model's weights: keep them alive while it exists
        try
        {
            var parameters = new mst_context_params
            {
                struct_size = (uint)sizeof(mst_context_params),
                n_ctx = (uint)settings.ContextLength,
                n_threads = (uint)settings.Threads,
                n_batch = (uint)settings.BatchSize,
                flags = settings.CheckLayers ? (uint)mst_context_flag.MST_CONTEXT_CHECK_LAYERS : 0,
                kv_type = (int)(settings.KvType == KvCacheType.F32 ? mst_type.MST_TYPE_F32 : mst_type.MST_TYPE_F16),
            };
            NativeStatus.Check(NativeMethods.mst_context_create(model, &parameters, out var context), "Creating a session");
            context.Model = model;
            added = false; // released by the context handle from now on
            return context;
        }
        finally
        {
            if (added) model.DangerousRelease();
        }
    }

    /// <summary>
    /// Evaluates tokens after those already in the cache and returns the logits of the last one, or of
    /// every one (token-major, <c>tokens.Length × VocabSize</c>) when <paramref name="allLogits"/> is set.
    /// </summary>
    /// <exception cref="ContextFullException">The tokens do not fit in what is left of the context.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the session is
    /// as before the call (see <see cref="Complete(IReadOnlyList{int}, GenerationOptions?, CancellationToken)"/>).</exception>
    public float[] Evaluate(ReadOnlySpan<int> tokens, bool allLogits = false, CancellationToken cancellationToken = default)
    {
        if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.", nameof(tokens));
        var vocab = Model.Config.VocabSize;
        var result = new float[(allLogits ? tokens.Length : 1) * vocab];
        using (Enter())
        {
            EvaluateCore(tokens, allLogits ? result : null, cancellationToken);
            if (!allLogits) _lastLogits.CopyTo(result, 0);
        }
        return result;
    }

    /// <summary>
    /// Evaluates tokens after those already in the cache and copies the last one's logits into
    /// <paramref name="logits"/> (at least <c>VocabSize</c> floats). Allocates nothing: the per-token path of
    /// benchmarks and custom decoding loops.
    /// </summary>
    /// <exception cref="ContextFullException">The tokens do not fit in what is left of the context.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the session is
    /// as before the call.</exception>
    public void Evaluate(ReadOnlySpan<int> tokens, Span<float> logits, CancellationToken cancellationToken = default)
    {
        if (tokens.IsEmpty) throw new ArgumentException("At least one token is needed.", nameof(tokens));
        if (logits.Length < Model.Config.VocabSize)
            throw new ArgumentException($"The logits span holds {logits.Length} floats; {Model.Config.VocabSize} are needed.", nameof(logits));
        using (Enter())
        {
            EvaluateCore(tokens, null, cancellationToken);
            _lastLogits.CopyTo(logits);
        }
    }

    /// <summary>Forgets every token from <paramref name="position"/> on, so generation can resume from there.</summary>
    /// <exception cref="ArgumentException">A rolling sliding-window cache no longer holds the keys the token at
    /// <paramref name="position"/> would attend to (only positions within about a window of the end can be resumed).</exception>
    public void Truncate(int position)
    {
        using (Enter())
        {
            var current = NativePosition() + (_pendingToken is null ? 0 : 1);
            if (position < 0 || position > current)
                throw new ArgumentOutOfRangeException(nameof(position), position, $"The session holds {current} tokens.");
            if (_pendingToken is not null && position == current) return;
            var keep = Math.Min(position, NativePosition());
            NativeStatus.Check(NativeMethods.mst_context_truncate(_context, (uint)keep), "Truncating the session");
            _pendingToken = null; // only once the native side agreed: a refused truncate changes nothing
            if (keep < _cached.Count) _cached.RemoveRange(keep, _cached.Count - keep);
        }
    }

    /// <summary>Empties the KV cache: the next prompt starts a new conversation.</summary>
    public void Reset() => Truncate(0);

    /// <summary>Generates text for a prompt, continuing the conversation held in this session.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (see
    /// <see cref="Complete(IReadOnlyList{int}, GenerationOptions?, CancellationToken)"/> for where that leaves the session).</exception>
    public string Generate(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Complete(prompt, options, cancellationToken).Text;

    /// <summary>Generates text and reports the token ids, the reason it stopped, and timings.</summary>
    public GenerationResult Complete(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        return Complete(Tokenize(prompt, options), options, cancellationToken);
    }

    /// <summary>Generates from prompt token ids (no BOS is added) and reports ids, text, finish reason and timings.</summary>
    /// <remarks>
    /// Cancellation is seen within a fraction of one layer's work, also while the prompt is processed: the native
    /// forward pass stops and <see cref="OperationCanceledException"/> is thrown. Cancelled while the prompt is
    /// processed, the session is where it was before the call; cancelled later, it holds the prompt and the tokens
    /// generated so far, as after a normal stop. One exception: a rolling sliding-window cache (see
    /// <see cref="PositionLimit"/>) cannot take back batches whose keys already replaced ones the earlier position
    /// needs, so a prompt longer than the batch size may keep its first batches; <see cref="Position"/> says where
    /// the session is, and Chat, which compares the history with the cache, carries on from there.
    /// </remarks>
    public GenerationResult Complete(IReadOnlyList<int> promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var run = StartRun(promptTokens, options);
        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        while (run.MoveNext(cancellationToken))
        {
            tokens.Add(run.Token);
            text.Append(run.Text);
        }
        text.Append(run.Text);
        return run.ToResult(text.ToString(), tokens);
    }

    /// <summary>Streams generated text piece by piece; each piece is whole UTF-8 characters.</summary>
    public async IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        var promptTokens = Tokenize(prompt, options);
        using var run = StartRun(promptTokens, options);
        while (true)
        {
            // The forward pass is a blocking native call: run it off the caller's thread so a UI or a
            // server's request thread stays free while the model works.
            var more = await Task.Run(() => run.MoveNext(cancellationToken), cancellationToken).ConfigureAwait(false);
            if (run.Text.Length > 0) yield return run.Text;
            if (!more) yield break;
        }
    }

    /// <summary>Generates token ids from prompt token ids (no BOS is added); stops like <see cref="Generate"/>.</summary>
    public IEnumerable<int> GenerateTokens(IReadOnlyList<int> promptTokens, GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        using var run = StartRun(promptTokens, options);
        while (run.MoveNext(cancellationToken)) yield return run.Token;
    }

    /// <summary>Releases the KV cache and threads.</summary>
    public void Dispose() => _context.Dispose();

    internal int[] Tokenize(string prompt, GenerationOptions options)
    {
        var addBos = options.AddBos ?? (Model.Tokenizer.AddBos && Position == 0);
        return Model.Tokenizer.Encode(prompt, addBos);
    }

    private GenerationRun StartRun(IReadOnlyList<int> promptTokens, GenerationOptions? options)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        options ??= new GenerationOptions();
        options.Validate();
        var lease = Enter();
        try
        {
            return new GenerationRun(this, promptTokens, options, lease);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Claims the session for one operation; a concurrent second claim is refused, not queued.</summary>
    internal Lease Enter()
    {
        ObjectDisposedException.ThrowIf(_context.IsClosed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("This session is already in use by another operation; use one session per concurrent caller.");
        return new Lease(this);
    }

    internal readonly struct Lease(MistralSession session) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref session._busy, 0);
    }

    internal ReadOnlySpan<float> LastLogits => _lastLogits;

    internal int PendingToken { set => _pendingToken = value; }

    /// <summary>Room left in the cache, counting a pending token as used.</summary>
    internal int Remaining => PositionLimit - NativePosition() - (_pendingToken is null ? 0 : 1);

    /// <summary>
    /// Runs tokens through the model in batches (a pending token first). Leaves the last token's logits
    /// in <see cref="LastLogits"/>; when <paramref name="allLogits"/> is given, fills it with a row per token.
    /// A failed or cancelled call leaves the session as it was, as far as the cache allows (see
    /// <see cref="RollBack"/>).
    /// </summary>
    internal unsafe void EvaluateCore(ReadOnlySpan<int> tokens, float[]? allLogits, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_context.IsClosed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var position = NativePosition();
        var pending = _pendingToken is null ? 0 : 1;
        if ((long)position + pending + tokens.Length > PositionLimit)
        {
            throw new ContextFullException(
                $"{tokens.Length} tokens do not fit in the session: it holds {position + pending} of {PositionLimit} tokens. " +
                "Create the session with a larger ContextLength, or Reset/Truncate it.");
        }
        if (_pendingToken is int first)
        {
            // The previous generation's last token was returned but not evaluated; it goes in first.
            DecodeBatch([first], null, 0, cancellationToken);
            _pendingToken = null;
        }
        var vocab = _lastLogits.Length;
        var before = NativePosition();
        try
        {
            for (var start = 0; start < tokens.Length; start += _batchSize)
            {
                var batch = tokens.Slice(start, Math.Min(_batchSize, tokens.Length - start));
                DecodeBatch(batch, allLogits, start * vocab, cancellationToken);
            }
        }
        catch (Exception e) when (e is NonFiniteOutputException or OperationCanceledException && NativePosition() > before)
        {
            // Earlier batches of this call went in before the failing one: take them out again, so the session is
            // where it was before the call (the native core already did so for the failing batch).
            RollBack(before);
            throw;
        }
    }

    /// <summary>
    /// Truncates the cache and <see cref="_cached"/> back to <paramref name="position"/> after a call failed part way.
    /// A rolling cache refuses when the batches that went in already overwrote keys that position needs: then
    /// those batches stay, and <see cref="_cached"/> still lists exactly what the cache holds.
    /// </summary>
    private void RollBack(int position)
    {
        if (NativeMethods.mst_context_truncate(_context, (uint)position) != mst_status.MST_OK) return;
        if (position < _cached.Count) _cached.RemoveRange(position, _cached.Count - position);
    }

    private unsafe void DecodeBatch(ReadOnlySpan<int> batch, float[]? allLogits, int offset, CancellationToken cancellationToken)
    {
        var vocab = _lastLogits.Length;
        var position = NativePosition();
        Exception? error = null;
        using (new AbortOnCancel(_context, cancellationToken))
        {
            mst_status status;
            fixed (int* tokenPtr = batch)
            {
                if (allLogits is null)
                {
                    fixed (float* logits = _lastLogits)
                        status = NativeMethods.mst_decode(_context, tokenPtr, (uint)batch.Length, 0, logits, (ulong)vocab);
                }
                else
                {
                    fixed (float* logits = &allLogits[offset])
                        status = NativeMethods.mst_decode(_context, tokenPtr, (uint)batch.Length, 1, logits, (ulong)(batch.Length * vocab));
                }
            }
            // Read the native message now: clearing the abort flag is a native call too, and clears it.
            if (status != mst_status.MST_OK) error = NativeStatus.ToException(status, "Evaluating tokens", cancellationToken);
        }
        if (error is not null)
        {
            // The native core leaves the position where the call began, or, when a rolling cache cannot take back a
            // batch it ran in several steps, after the steps it finished (context.c: position_after_failure): this list
            // follows the position, so it always names the ids the cache holds.
            var kept = NativePosition() - position;
            if (kept > 0) _cached.AddRange(batch[..kept]);
            throw error;
        }
        if (allLogits is not null) allLogits.AsSpan(offset + (batch.Length - 1) * vocab, vocab).CopyTo(_lastLogits);
        _cached.AddRange(batch);
    }

    /// <summary>
    /// While a native call runs, cancelling the token sets the context's abort flag, which the forward pass checks
    /// between layers and between the work items of its long operations. Disposing unregisters, which waits for a
    /// callback already running, and only then clears the flag, so no later call starts cancelled.
    /// </summary>
    private readonly struct AbortOnCancel : IDisposable
    {
        private readonly MstContextHandle? _context;
        private readonly CancellationTokenRegistration _registration;

        public AbortOnCancel(MstContextHandle context, CancellationToken cancellationToken)
        {
            if (!cancellationToken.CanBeCanceled) return; // nothing to register: the common, allocation-free case
            _context = context;
            // Unsafe: no ExecutionContext to flow into a callback that only sets a flag. A token already cancelled runs
            // it here, and the decode then returns MST_ERR_CANCELLED before doing any work.
            _registration = cancellationToken.UnsafeRegister(static state => NativeMethods.mst_context_set_abort((MstContextHandle)state!, 1), context);
        }

        public void Dispose()
        {
            if (_context is null) return;
            _registration.Dispose();
            NativeMethods.mst_context_set_abort(_context, 0);
        }
    }

    private unsafe int NativePosition()
    {
        uint position;
        NativeStatus.Check(NativeMethods.mst_context_position(_context, &position), "Reading the session position");
        return (int)position;
    }
}
