using System.Runtime.CompilerServices;
using Mode = Mistral.Constraints.JsonRecognizer.Mode;

namespace Mistral.Constraints;

/// <summary>
/// JSON that also follows a schema (the subset <see cref="JsonSchemaCompiler"/> accepts), byte by byte: a
/// <see cref="JsonRecognizer"/> checks the syntax, and this layer follows where in the schema each byte falls and
/// refuses what the schema rules out — a value of a type the schema does not allow, a key it does not declare or
/// that comes out of order, a <c>}</c> while a required key is missing, a string outside an <c>enum</c>, a
/// fraction or exponent in an integer. Like the JSON recognizer it is a small value type, copied to test a token.
/// </summary>
/// <remarks>
/// <para>
/// It never accepts a prefix it cannot finish: a key may start only if some declared key can still come, a
/// <c>,</c> in an object only if another key may follow, and key and enum strings are matched against a trie of
/// the allowed ones, so every accepted prefix extends to a document that validates. A constraint must not lead the
/// model into a corner where no token fits.
/// </para>
/// <para>
/// What it requires beyond the schema, each a choice of one spelling among equivalent ones: keys in the order the
/// schema declares them (optional ones may be skipped); integers without fraction or exponent (<c>1</c>, never
/// <c>1.0</c>); property names and enum strings in <see cref="JsonSchemaCompiler.Spell"/>'s spelling.
/// </para>
/// </remarks>
internal struct SchemaRecognizer : IByteRecognizer<SchemaRecognizer>
{
    /// <summary>Most nested objects and arrays; one frame each, inline so that a copy is one block move.</summary>
    public const int MaxNesting = 16;

    private const ushort NoNode = ushort.MaxValue;

    // A frame per open container: the schema node (low 16 bits) and, for objects, 1 + the index of the last
    // property written (bits 16..23; 0 before the first). Frames above the depth are kept zero so that equal states
    // compare equal.
    [InlineArray(MaxNesting)]
    private struct Frames
    {
        private uint _frame;
    }

    private JsonRecognizer _syntax;
    private SchemaGrammar _grammar;
    private Frames _frames;
    private ushort _expect;      // the node the next value must follow, when a value is due
    private int _match;          // position in the key or enum trie while such a string is read; -1 otherwise
    private bool _matchingKey;
    private bool _integerOnly;   // the number being read must stay an integer

    /// <summary>The state before any byte: a value following the schema's root.</summary>
    public static SchemaRecognizer Start(SchemaGrammar grammar) =>
        new() { _syntax = JsonRecognizer.Start(rootObjectOnly: false), _grammar = grammar, _expect = 0, _match = -1 };

    public readonly bool IsComplete => _syntax.IsComplete;

    public readonly bool IsClosed => _syntax.IsClosed;

    public bool Push(byte b)
    {
        switch (_syntax.Position)
        {
            case Mode.String or Mode.Escape or Mode.Unicode or Mode.LowBackslash or Mode.LowU or Mode.Utf8:
                return _syntax.Push(b) && (_match < 0 || StepMatch(b));
            case Mode.Literal:
                return _syntax.Push(b);
            case Mode.Minus or Mode.Zero or Mode.Integer or Mode.Dot or Mode.Fraction or Mode.Exponent or Mode.ExponentSign or Mode.ExponentDigits:
                if (b is (byte)'.' or (byte)'e' or (byte)'E' or (byte)'+' or (byte)'-' || (uint)(b - '0') <= 9)
                    return !(_integerOnly && b is (byte)'.' or (byte)'e' or (byte)'E') && _syntax.Push(b);
                // Any other byte ends the number and is read as punctuation after the value.
                _integerOnly = false;
                return PushStructural(b, _syntax.Depth == 0 ? Mode.Done : Mode.AfterValue);
            default:
                return PushStructural(b, _syntax.Position);
        }
    }

    private bool PushStructural(byte b, Mode mode)
    {
        if (b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') return _syntax.Push(b);
        switch (mode)
        {
            case Mode.Value or Mode.RootObject:
                return StartValue(b);
            case Mode.ArrayFirst:
                return b == (byte)']' ? Close(b) : StartValue(b);
            case Mode.ObjectFirst:
                return b == (byte)'}' ? CloseObject() : StartKey(b);
            case Mode.Key:
                return StartKey(b);
            case Mode.AfterValue:
                if (b == (byte)'}') return CloseObject();
                if (b == (byte)']') return Close(b);
                if (b != (byte)',' || !_syntax.Push(b)) return false;
                var node = NodeOf(Top);
                if (_syntax.Position == Mode.Key)
                    return AllowedKeys(node, Top) != 0;   // a ',' with no key left to write would be a dead end
                _expect = (ushort)node.Items;
                return true;
            default: // Colon (the key already set what follows) and Done (only whitespace, refused by the syntax)
                return _syntax.Push(b);
        }
    }

    private bool StartValue(byte b)
    {
        if (_expect == NoNode) return false;
        var node = _grammar.Nodes[_expect];
        var type = b switch
        {
            (byte)'{' => SchemaTypes.Object,
            (byte)'[' => SchemaTypes.Array,
            (byte)'"' => SchemaTypes.String,
            (byte)'-' or >= (byte)'0' and <= (byte)'9' => SchemaTypes.Number | SchemaTypes.Integer,
            (byte)'t' or (byte)'f' => SchemaTypes.Boolean,
            (byte)'n' => SchemaTypes.Null,
            _ => SchemaTypes.None,
        };
        if ((node.Types & type) == 0 || !_syntax.Push(b)) return false;
        var current = _expect;
        _expect = NoNode;
        switch (type)
        {
            case SchemaTypes.Object:
                this[_syntax.Depth - 1] = current;
                break;
            case SchemaTypes.Array:
                this[_syntax.Depth - 1] = current;
                _expect = (ushort)node.Items;
                break;
            case SchemaTypes.String:
                _match = node.Enum;
                _matchingKey = false;
                break;
            case SchemaTypes.Number | SchemaTypes.Integer:
                _integerOnly = (node.Types & SchemaTypes.Number) == 0;
                break;
        }
        return true;
    }

    private bool StartKey(byte b)
    {
        var node = NodeOf(Top);
        if (b != (byte)'"' || AllowedKeys(node, Top) == 0 || !_syntax.Push(b)) return false;
        _match = node.Keys;
        _matchingKey = true;
        return true;
    }

    /// <summary>A byte inside a key or enum string: it must continue one of the strings still allowed.</summary>
    private bool StepMatch(byte b)
    {
        var next = _grammar.Step(_match, b);
        if (next < 0) return false;
        if (!_matchingKey)
        {
            _match = _grammar.Terminal(next) >= 0 ? -1 : next;
            return true;
        }
        var frame = Top;
        var node = NodeOf(frame);
        if ((_grammar.Reach(next) & AllowedKeys(node, frame)) == 0) return false;
        var property = _grammar.Terminal(next);
        if (property < 0)
        {
            _match = next;
            return true;
        }
        _match = -1;
        _matchingKey = false;
        this[_syntax.Depth - 1] = (frame & 0xFFFF) | (uint)(property + 1) << 16;
        _expect = (ushort)node.Properties[property];
        return true;
    }

    /// <summary>
    /// The properties that may come next, in declared order: those after the last one written, up to and including
    /// the first required one among them (a required property cannot be skipped).
    /// </summary>
    private static ulong AllowedKeys(SchemaNode node, uint frame)
    {
        var after = (int)(frame >> 16);   // properties with index ≥ after may still come
        var count = node.Properties.Length;
        var candidates = after >= count ? 0UL : (count == 64 ? ~0UL : (1UL << count) - 1) & ~0UL << after;
        var required = node.Required & candidates;
        if (required != 0)
        {
            var first = System.Numerics.BitOperations.TrailingZeroCount(required);
            candidates &= first == 63 ? ~0UL : (1UL << (first + 1)) - 1;
        }
        return candidates;
    }

    private bool CloseObject()
    {
        if (_syntax.Depth == 0) return false;
        var frame = Top;
        var after = (int)(frame >> 16);
        var missing = after >= 64 ? 0UL : NodeOf(frame).Required & ~0UL << after;
        return missing == 0 && Close((byte)'}');
    }

    private bool Close(byte b)
    {
        if (!_syntax.Push(b)) return false;
        this[_syntax.Depth] = 0;
        _expect = NoNode;   // an empty array leaves its items node here; clear it so equal states compare equal
        return true;
    }

    private readonly SchemaNode NodeOf(uint frame) => _grammar.Nodes[(int)(frame & 0xFFFF)];

    private readonly uint Top => _syntax.Depth == 0 ? 0 : _frames[_syntax.Depth - 1];

    private uint this[int level]
    {
        readonly get => _frames[level];
        set => _frames[level] = value;
    }

    public readonly bool Equals(SchemaRecognizer other) =>
        _syntax.Equals(other._syntax) && ReferenceEquals(_grammar, other._grammar) && _expect == other._expect &&
        _match == other._match && _matchingKey == other._matchingKey && _integerOnly == other._integerOnly &&
        ((ReadOnlySpan<uint>)_frames).SequenceEqual(other._frames);

    public override readonly bool Equals(object? obj) => obj is SchemaRecognizer other && Equals(other);

    public override readonly int GetHashCode() => HashCode.Combine(_syntax, _expect, _match, _matchingKey, _integerOnly, Top);
}
