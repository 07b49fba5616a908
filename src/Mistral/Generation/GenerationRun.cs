using System.Diagnostics;
using System.Security.Cryptography;
using Mistral.Constraints;
using Mistral.Sampling;
using Mistral.Tokenization;

namespace Mistral.Generation;

/// <summary>
/// One generation, advanced a token at a time by <see cref="MoveNext"/>: the single loop behind
/// Generate, Complete, GenerateAsync and GenerateTokens, so every entry point stops and detokenizes
/// the same way. A sampled token is evaluated lazily, when the next one is asked for, so no forward
/// pass is spent on a token after which generation stops; a token left unevaluated is handed to the
/// session, which feeds it in first on its next call, keeping the conversation whole.
/// </summary>
internal sealed class GenerationRun : IDisposable
{
    private readonly MistralSession _session;
    private readonly IReadOnlyList<int> _prompt;
    private readonly GenerationOptions _options;
    private readonly MistralSession.Lease _lease;
    private readonly TokenSampler _sampler;
    private readonly StreamingDetokenizer _detokenizer;
    private readonly StopStringMatcher _stops;
    private readonly ITokenConstraint? _json; // set when the options ask for a response format
    private readonly float[] _logits;
    private readonly int _eos;
    private readonly bool _nativeGreedy; // decode steps pick their token in the native core (mst_decode_greedy)
    private int? _unevaluated;
    private int _generated;
    private int _decodeSteps;
    private bool _started;
    private long _promptTicks;
    private long _decodeTicks;

    public GenerationRun(MistralSession session, IReadOnlyList<int> prompt, GenerationOptions options, MistralSession.Lease lease)
    {
        _session = session;
        _prompt = prompt;
        _options = options;
        _lease = lease;
        var tokenizer = session.Model.Tokenizer;
        _eos = tokenizer.EosId;
        _logits = new float[session.Model.Config.VocabSize];
        var seed = options.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        _sampler = new TokenSampler(_logits.Length, options, seed);
        // Generated tokens continue the prompt: a leading "▁" is a real space (llama.cpp prints it too).
        _detokenizer = tokenizer.CreateStreamingDetokenizer(startsText: false);
        _stops = new StopStringMatcher(options.StopStrings);
        _json = options.ResponseFormat?.CreateConstraint(tokenizer);
        // Greedy with nothing that reads or changes the logits first (a JSON mask, suppressed tokens, a repetition
        // penalty): the native core's pick equals the sampler's, and on a GPU the logits then stay on the device.
        _nativeGreedy = !SampleOnHost.Value && TokenSampler.IsPlainArgMax(options) && _json is null &&
                        options.SuppressedTokens.Count == 0;
        if (prompt.Count == 0) throw new ArgumentException("The prompt has no tokens.", nameof(prompt));
        if (prompt.Count > session.Remaining)
        {
            throw new ContextFullException(
                $"The prompt has {prompt.Count} tokens but the session has room for {session.Remaining} more " +
                $"(context {session.ContextLength}). Shorten the prompt, Reset the session, or create it with a larger ContextLength.");
        }
    }

    /// <summary>
    /// True (in this async flow): every run samples from the logits in C#, the path greedy runs took before
    /// mst_decode_greedy; for tests that compare the two.
    /// </summary>
    internal static readonly AsyncLocal<bool> SampleOnHost = new();

    /// <summary>The token produced by the last successful <see cref="MoveNext"/>.</summary>
    public int Token { get; private set; }

    /// <summary>Text released by the last <see cref="MoveNext"/> (may be empty while a character or a possible stop string is incomplete).</summary>
    public string Text { get; private set; } = string.Empty;

    /// <summary>Why the run ended, once it has.</summary>
    public FinishReason? Finish { get; private set; }

    /// <summary>Produces the next token; false when generation has ended (then <see cref="Text"/> holds any final text).</summary>
    public bool MoveNext(CancellationToken cancellationToken)
    {
        Text = string.Empty;
        if (Finish is not null) return false;
        cancellationToken.ThrowIfCancellationRequested();

        // A cancelled or failed evaluation throws with the session unchanged (EvaluateCore) and this run's state as
        // it was: the prompt not marked started, the last token still unevaluated and handed back on Dispose.
        int? picked = null; // the native core's greedy choice (_nativeGreedy decode steps)
        if (!_started)
        {
            var prompt = _prompt as int[] ?? [.. _prompt];
            var start = Stopwatch.GetTimestamp();
            _session.EvaluateCore(prompt, null, cancellationToken);
            _started = true;
            _promptTicks = Stopwatch.GetTimestamp() - start;
            foreach (var token in prompt) _sampler.Accept(token);
        }
        else if (_unevaluated is int previous)
        {
            var start = Stopwatch.GetTimestamp();
            if (_nativeGreedy) picked = _session.EvaluateGreedyCore(previous, cancellationToken);
            else _session.EvaluateCore([previous], null, cancellationToken);
            _unevaluated = null;
            _decodeSteps++;
            _decodeTicks += Stopwatch.GetTimestamp() - start;
        }

        // A token is only sampled if the cache has room to hold it, so every token handed out can be
        // continued from and Position never exceeds PositionLimit (ContextLength, unless the cache rolls).
        if (_session.Remaining < 1) return End(FinishReason.ContextFull);

        var sampleStart = Stopwatch.GetTimestamp();
        int next;
        if (picked is int id)
        {
            next = id; // TokenSampler.ArgMax of this step's logits, applied natively (IsPlainArgMax)
        }
        else
        {
            _session.LastLogits.CopyTo(_logits);
            // The mask goes on before any sampler step, so temperature, top-k/p and min-p only see allowed tokens.
            if (_json is not null) JsonTokenMask.Apply(_logits, _json.Allowed());
            foreach (var banned in _options.SuppressedTokens) _logits[banned] = float.NegativeInfinity;
            // A forced first token (tool_choice "required": [TOOL_CALLS]) is taken as if sampled; the logits are not consulted.
            next = _generated == 0 && _options.ForcedFirstToken is int forced ? forced : _sampler.Sample(_logits);
        }
        _decodeTicks += Stopwatch.GetTimestamp() - sampleStart;
        if (next == _eos) return End(FinishReason.EndOfSequence);

        _sampler.Accept(next);
        _json?.Accept(next);
        _generated++;
        _unevaluated = next;
        Token = next;
        Text = _stops.Push(_detokenizer.Append(next), out var stopped);
        if (stopped) Finish = FinishReason.StopString;
        // A closed JSON value can only be followed by the end of sequence: end now rather than spend a step on it.
        else if (_json is { IsClosed: true }) Finish = FinishReason.EndOfSequence;
        else if (_generated >= _options.MaxTokens) Finish = FinishReason.MaxTokens;
        if (Finish is not null && !stopped) Text += _stops.Push(_detokenizer.Flush(), out _) + _stops.Flush();
        return true;
    }

    private bool End(FinishReason reason)
    {
        Finish = reason;
        Text = _stops.Push(_detokenizer.Flush(), out _) + _stops.Flush();
        return false;
    }

    public GenerationResult ToResult(string text, IReadOnlyList<int> tokens) =>
        new(text, tokens, Finish ?? FinishReason.MaxTokens, _prompt.Count,
            Stopwatch.GetElapsedTime(0, _promptTicks), Stopwatch.GetElapsedTime(0, _decodeTicks))
        { DecodeSteps = _decodeSteps };

    public void Dispose()
    {
        // The last sampled token was returned to the caller but never evaluated: the session feeds it in
        // before its next tokens, so a follow-up prompt continues the same conversation.
        if (_unevaluated is int token) _session.PendingToken = token;
        _lease.Dispose();
    }
}
