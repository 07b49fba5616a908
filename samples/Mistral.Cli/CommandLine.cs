using System.Globalization;

namespace Mistral.Cli;

/// <summary>
/// A small "--name value" parser. The CLI's options are few and flat, so a dependency would add more
/// than it saves; every mistake is reported as a <see cref="UsageException"/> naming the option.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CommandLine(IEnumerable<string> args, IReadOnlySet<string> flagNames)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var arg = e.Current;
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{arg}'");
            var name = arg[2..];
            if (flagNames.Contains(name))
            {
                _flags.Add(name);
                continue;
            }
            if (!e.MoveNext()) throw new UsageException($"--{name} needs a value");
            if (!_values.TryGetValue(name, out var list)) _values[name] = list = [];
            list.Add(e.Current);
        }
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        return _flags.Contains(name);
    }

    public string? String(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var list) ? list[^1] : null;
    }

    public IReadOnlyList<string> All(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var list) ? list : [];
    }

    public string Required(string name) => String(name) ?? throw new UsageException($"--{name} is required");

    public int? Int(string name) => Parse(name, s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    public ulong? ULong(string name) => Parse(name, s => ulong.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    public float? Float(string name) => Parse(name, s => float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture));

    /// <summary>Fails on options nobody asked for, so a typo is not silently ignored.</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Concat(_flags).Where(n => !_used.Contains(n)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option --{unknown[0]}");
    }

    private T? Parse<T>(string name, Func<string, T> parse) where T : struct
    {
        var text = String(name);
        if (text is null) return null;
        try
        {
            return parse(text);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            throw new UsageException($"--{name}: '{text}' is not a valid {typeof(T).Name}");
        }
    }
}

/// <summary>The command line is wrong; the message says how.</summary>
internal sealed class UsageException(string message) : Exception(message);
