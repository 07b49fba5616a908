namespace Mistral.Constraints;

/// <summary>
/// An incremental JSON (RFC 8259) recognizer over UTF-8 bytes: a pushdown automaton whose whole state, the
/// stack of open containers included, fits in a small value type. Copying it is a register move, which is what
/// lets <see cref="JsonTokenMask"/> test a token by pushing its bytes into a copy, and test tokens that share a
/// prefix by copying the state reached after that prefix.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Push"/> answers whether the bytes so far are still a prefix of some valid JSON text; a byte that is
/// refused leaves the state unusable, so callers push into a copy. Strings are checked as UTF-8 (no overlong forms,
/// no encoded surrogates, nothing above U+10FFFF), control characters in strings are refused, escapes are the
/// eight of the RFC plus <c>\uXXXX</c>, where a surrogate must be a high half followed at once by a low half
/// (RFC 8259 allows a lone one, but it is not text, and System.Text.Json refuses to read such a string).
/// </para>
/// <para>
/// Two limits the RFC leaves open, both there so that a model cannot go on forever without making progress:
/// at most <see cref="MaxWhitespaceRun"/> whitespace bytes in a row, and at most <see cref="MaxDepth"/> nested
/// containers (System.Text.Json's default maximum depth too). The stack is one bit per level (object or array)
/// in a 64-bit word, which is where the depth limit comes from.
/// </para>
/// </remarks>
internal struct JsonRecognizer : IByteRecognizer<JsonRecognizer>
{
    /// <summary>Most consecutive whitespace bytes accepted; enough for indentation several levels deep.</summary>
    public const int MaxWhitespaceRun = 24;

    /// <summary>Most nested objects and arrays.</summary>
    public const int MaxDepth = 64;

    internal enum Mode : byte
    {
        Value,          // a value must come next (top level, after ':' or ',' in an array)
        RootObject,     // the top-level value, restricted to an object
        ArrayFirst,     // just after '[': a value or ']'
        ObjectFirst,    // just after '{': a key or '}'
        Key,            // after ',' in an object: a key
        Colon,          // after a key
        AfterValue,     // after a value inside a container: ',' or the closing bracket
        Done,           // the top-level value is complete; only whitespace may follow
        String,
        Escape,
        Unicode,        // _count hex digits of \uXXXX still to come (_surrogate: what they may be)
        LowBackslash,   // after a high surrogate's \uD8XX..\uDBXX: the '\' of its low half must follow
        LowU,           // ... then the 'u'
        Utf8,           // _count continuation bytes still to come, the next in [_lo, _hi]
        Literal,        // inside true/false/null: _literal, _count bytes matched
        Minus,          // after '-': a digit must follow
        Zero,           // a number whose integer part is "0"
        Integer,        // in the integer digits (first one 1-9)
        Dot,            // after '.': a digit must follow
        Fraction,
        Exponent,       // after 'e'/'E': sign or digit
        ExponentSign,   // after the exponent's sign: a digit must follow
        ExponentDigits,
    }

    private static readonly byte[][] Literals = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];

    private ulong _objects;   // bit i set: level i is an object (else an array)
    private byte _depth;
    private Mode _mode;
    private bool _inKey;      // the string being read is an object key
    private byte _whitespace; // whitespace bytes in the current run
    private byte _count;
    private byte _literal;
    private byte _lo, _hi;
    private Surrogate _surrogate;

    // Escaped UTF-16 surrogates must come in pairs (System.Text.Json refuses a lone one when it reads the string).
    private enum Surrogate : byte
    {
        None,
        FirstDigitD,    // \uD...: the next digit says whether this is a surrogate
        High,           // \uD800..\uDBFF: a low half must follow
        Low,            // reading the low half: \uDC00..\uDFFF only
    }

    /// <summary>The state before any byte: any JSON value, or only an object when <paramref name="rootObjectOnly"/>.</summary>
    public static JsonRecognizer Start(bool rootObjectOnly) => new() { _mode = rootObjectOnly ? Mode.RootObject : Mode.Value };

    /// <summary>Bytes pushed so far form a complete JSON text (end of input is acceptable here).</summary>
    public readonly bool IsComplete =>
        _depth == 0 && _mode is Mode.Done or Mode.Zero or Mode.Integer or Mode.Fraction or Mode.ExponentDigits;

    /// <summary>The value is complete and nothing but whitespace could follow it: generation can stop here.</summary>
    public readonly bool IsClosed => _mode == Mode.Done;

    /// <summary>Open objects and arrays.</summary>
    public readonly int Depth => _depth;

    /// <summary>Where in the grammar the next byte falls: what <see cref="SchemaRecognizer"/> reads to follow the structure.</summary>
    internal readonly Mode Position => _mode;

    /// <summary>Advances by one byte; false when the byte cannot continue any valid JSON (the state is then undefined).</summary>
    public bool Push(byte b)
    {
        switch (_mode)
        {
            case Mode.String:
                if (b == (byte)'"') return EndString();
                if (b == (byte)'\\') { _mode = Mode.Escape; return true; }
                if (b < 0x20) return false;   // control characters must be escaped
                if (b < 0x80) return true;
                return StartUtf8(b);
            case Mode.Utf8:
                if (b < _lo || b > _hi) return false;
                _lo = 0x80;
                _hi = 0xBF;
                if (--_count == 0)
                {
                    _mode = Mode.String;
                    _lo = _hi = 0; // leftovers would make equal states compare unequal (JsonTokenMask's cache)
                }
                return true;
            case Mode.Escape:
                if (b == (byte)'u') { _mode = Mode.Unicode; _count = 4; return true; }
                if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
                {
                    _mode = Mode.String;
                    return true;
                }
                return false;
            case Mode.Unicode:
                return PushHexDigit(b);
            case Mode.LowBackslash:
                if (b != (byte)'\\') return false;
                _mode = Mode.LowU;
                return true;
            case Mode.LowU:
                if (b != (byte)'u') return false;
                _mode = Mode.Unicode;
                _count = 4;
                _surrogate = Surrogate.Low;
                return true;
            case Mode.Literal:
                if (b != Literals[_literal][_count]) return false;
                if (++_count == Literals[_literal].Length) EndValue();
                return true;
            case Mode.Minus:
                if (b == (byte)'0') { _mode = Mode.Zero; return true; }
                if (IsDigit(b)) { _mode = Mode.Integer; return true; }
                return false;
            case Mode.Zero:
                return AfterIntegerPart(b);
            case Mode.Integer:
                return IsDigit(b) || AfterIntegerPart(b);
            case Mode.Dot:
                if (!IsDigit(b)) return false;
                _mode = Mode.Fraction;
                return true;
            case Mode.Fraction:
                if (IsDigit(b)) return true;
                if (b is (byte)'e' or (byte)'E') { _mode = Mode.Exponent; return true; }
                return EndNumber(b);
            case Mode.Exponent:
                if (b is (byte)'+' or (byte)'-') { _mode = Mode.ExponentSign; return true; }
                if (IsDigit(b)) { _mode = Mode.ExponentDigits; return true; }
                return false;
            case Mode.ExponentSign:
                if (!IsDigit(b)) return false;
                _mode = Mode.ExponentDigits;
                return true;
            case Mode.ExponentDigits:
                return IsDigit(b) || EndNumber(b);
        }
        return PushStructural(b);
    }

    /// <summary>Outside strings, literals and numbers: whitespace and punctuation.</summary>
    private bool PushStructural(byte b)
    {
        if (b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            if (_whitespace >= MaxWhitespaceRun) return false;
            _whitespace++;
            return true;
        }
        _whitespace = 0;
        switch (_mode)
        {
            case Mode.RootObject:
                return b == (byte)'{' && Open(isObject: true);
            case Mode.Value:
                return StartValue(b);
            case Mode.ArrayFirst:
                return b == (byte)']' ? Close() : StartValue(b);
            case Mode.ObjectFirst:
                if (b == (byte)'}') return Close();
                return StartKey(b);
            case Mode.Key:
                return StartKey(b);
            case Mode.Colon:
                if (b != (byte)':') return false;
                _mode = Mode.Value;
                return true;
            case Mode.AfterValue:
                var inObject = TopIsObject;
                if (b == (byte)',')
                {
                    _mode = inObject ? Mode.Key : Mode.Value;
                    return true;
                }
                if (b == (byte)'}') return inObject && Close();
                if (b == (byte)']') return !inObject && Close();
                return false;
            default: // Done: only whitespace, handled above
                return false;
        }
    }

    private bool PushHexDigit(byte b)
    {
        if (!char.IsAsciiHexDigit((char)b)) return false;
        var digit = b | 0x20; // lower case
        switch (4 - _count, _surrogate)
        {
            case (0, Surrogate.Low):
                if (digit != 'd') return false;
                break;
            case (0, _):
                if (digit == 'd') _surrogate = Surrogate.FirstDigitD;
                break;
            case (1, Surrogate.Low):
                if (digit is not ('c' or 'd' or 'e' or 'f')) return false;
                break;
            case (1, Surrogate.FirstDigitD):
                if (digit is 'c' or 'd' or 'e' or 'f') return false; // a low half with no high half before it
                _surrogate = digit is '8' or '9' or 'a' or 'b' ? Surrogate.High : Surrogate.None;
                break;
        }
        if (--_count > 0) return true;
        if (_surrogate == Surrogate.High)
        {
            _mode = Mode.LowBackslash;
            return true;
        }
        _surrogate = Surrogate.None;
        _mode = Mode.String;
        return true;
    }

    private bool StartValue(byte b)
    {
        switch (b)
        {
            case (byte)'{': return Open(isObject: true);
            case (byte)'[': return Open(isObject: false);
            case (byte)'"': _mode = Mode.String; _inKey = false; return true;
            case (byte)'-': _mode = Mode.Minus; return true;
            case (byte)'0': _mode = Mode.Zero; return true;
            case (byte)'t': _mode = Mode.Literal; _literal = 0; _count = 1; return true;
            case (byte)'f': _mode = Mode.Literal; _literal = 1; _count = 1; return true;
            case (byte)'n': _mode = Mode.Literal; _literal = 2; _count = 1; return true;
        }
        if (!IsDigit(b)) return false;
        _mode = Mode.Integer;
        return true;
    }

    private bool StartKey(byte b)
    {
        if (b != (byte)'"') return false;
        _mode = Mode.String;
        _inKey = true;
        return true;
    }

    private bool StartUtf8(byte b)
    {
        // Ranges of the byte after the lead byte (Unicode's table of well-formed UTF-8 sequences).
        (_count, _lo, _hi) = b switch
        {
            >= 0xC2 and <= 0xDF => ((byte)1, (byte)0x80, (byte)0xBF),
            0xE0 => ((byte)2, (byte)0xA0, (byte)0xBF),
            0xED => ((byte)2, (byte)0x80, (byte)0x9F),   // U+D800..DFFF are not characters
            >= 0xE1 and <= 0xEF => ((byte)2, (byte)0x80, (byte)0xBF),
            0xF0 => ((byte)3, (byte)0x90, (byte)0xBF),
            >= 0xF1 and <= 0xF3 => ((byte)3, (byte)0x80, (byte)0xBF),
            0xF4 => ((byte)3, (byte)0x80, (byte)0x8F),   // nothing above U+10FFFF
            _ => ((byte)0, (byte)0, (byte)0),
        };
        if (_count == 0) return false;
        _mode = Mode.Utf8;
        return true;
    }

    private bool EndString()
    {
        if (_inKey)
        {
            _mode = Mode.Colon;
            _inKey = false;
            return true;
        }
        EndValue();
        return true;
    }

    private bool AfterIntegerPart(byte b)
    {
        if (b == (byte)'.') { _mode = Mode.Dot; return true; }
        if (b is (byte)'e' or (byte)'E') { _mode = Mode.Exponent; return true; }
        return EndNumber(b);
    }

    /// <summary>A number has no terminator of its own: the byte after it ends it and is then read as punctuation.</summary>
    private bool EndNumber(byte b)
    {
        EndValue();
        return PushStructural(b);
    }

    private void EndValue()
    {
        _mode = _depth == 0 ? Mode.Done : Mode.AfterValue;
        _whitespace = 0;
        _count = 0;
        _literal = 0;
    }

    private bool Open(bool isObject)
    {
        if (_depth >= MaxDepth) return false;
        if (isObject) _objects |= 1UL << _depth;
        else _objects &= ~(1UL << _depth);
        _depth++;
        _mode = isObject ? Mode.ObjectFirst : Mode.ArrayFirst;
        return true;
    }

    private bool Close()
    {
        _depth--;
        EndValue();
        return true;
    }

    private readonly bool TopIsObject => _depth > 0 && (_objects >> (_depth - 1) & 1) != 0;

    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    public readonly bool Equals(JsonRecognizer other) =>
        _depth == other._depth && _mode == other._mode && _inKey == other._inKey && _whitespace == other._whitespace &&
        _count == other._count && _literal == other._literal && _lo == other._lo && _hi == other._hi && _surrogate == other._surrogate &&
        // Bits above the depth are leftovers of closed containers and do not affect what comes next.
        (_depth == 0 || (_objects << (64 - _depth)) == (other._objects << (64 - _depth)));

    public override readonly bool Equals(object? obj) => obj is JsonRecognizer other && Equals(other);

    public override readonly int GetHashCode() =>
        HashCode.Combine(_depth == 0 ? 0UL : _objects << (64 - _depth), _depth, _mode, _inKey, _whitespace, _count, _literal, _lo ^ (int)_surrogate << 8);
}
