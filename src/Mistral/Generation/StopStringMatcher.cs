using System.Text;

namespace Mistral.Generation;

/// <summary>
/// Finds stop strings in streamed text. Text that could still be the start of a stop string is held
/// back until the next piece decides it, so a caller never sees part of a stop string.
/// </summary>
internal sealed class StopStringMatcher
{
    private readonly IReadOnlyList<string> _stops;
    private readonly StringBuilder _pending = new();

    public StopStringMatcher(IReadOnlyList<string> stops) => _stops = stops;

    /// <summary>Adds text; returns what is safe to emit. <paramref name="stopped"/> is set when a stop string was found.</summary>
    public string Push(string text, out bool stopped)
    {
        stopped = false;
        if (_stops.Count == 0) return text;
        _pending.Append(text);
        var all = _pending.ToString();

        var cut = -1;
        foreach (var stop in _stops)
        {
            var at = all.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            stopped = true;
            _pending.Clear();
            return all[..cut];
        }

        var hold = 0;
        foreach (var stop in _stops)
        {
            for (var length = Math.Min(stop.Length - 1, all.Length); length > hold; length--)
            {
                if (all.AsSpan(all.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    hold = length;
                    break;
                }
            }
        }
        _pending.Clear();
        _pending.Append(all, all.Length - hold, hold);
        return all[..^hold];
    }

    /// <summary>Returns the held-back text when generation ends without a stop string.</summary>
    public string Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }
}
