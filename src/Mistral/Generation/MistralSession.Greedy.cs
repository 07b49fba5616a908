using Mistral.Interop;

namespace Mistral;

public sealed partial class MistralSession
{
    /// <summary>
    /// Evaluates one token after those in the cache and returns the greedy choice from its logits (the largest, ties
    /// to the lowest id: <see cref="Sampling.TokenSampler.ArgMax"/>), through mst_decode_greedy: the native core picks
    /// the id itself, so a GPU backend brings back 4 bytes per step instead of the logits. <see cref="LastLogits"/> is
    /// not updated: a caller that reads it must use <see cref="EvaluateCore"/>. Fails, and leaves the session as it
    /// was, as <see cref="EvaluateCore"/> does (non-finite logits included).
    /// </summary>
    internal unsafe int EvaluateGreedyCore(int token, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_context.IsClosed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_pendingToken is not null)
        {
            // A previous generation's unevaluated last token goes in first, by the ordinary path (a rare first step).
            EvaluateCore([token], null, cancellationToken);
            return Sampling.TokenSampler.ArgMax(LastLogits);
        }
        var position = NativePosition();
        if ((long)position + 1 > PositionLimit)
        {
            throw new ContextFullException(
                $"1 token does not fit in the session: it holds {position} of {PositionLimit} tokens. " +
                "Create the session with a larger ContextLength, or Reset/Truncate it.");
        }
        Exception? error = null;
        int next;
        using (new AbortOnCancel(_context, cancellationToken))
        {
            var status = NativeMethods.mst_decode_greedy(_context, &token, 1, &next);
            // Read the native message now: clearing the abort flag is a native call too, and clears it.
            if (status != mst_status.MST_OK) error = NativeStatus.ToException(status, "Evaluating tokens", cancellationToken);
        }
        if (error is not null) throw error; // one token: the native core left the position where it was
        _cached.Add(token);
        GreedyDecodeSteps++;
        return next;
    }

    /// <summary>One-token steps this session ran through mst_decode_greedy (tests check that the fast path ran).</summary>
    internal int GreedyDecodeSteps { get; private set; }
}
