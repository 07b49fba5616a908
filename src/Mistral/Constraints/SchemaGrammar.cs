namespace Mistral.Constraints;

/// <summary>The JSON types a schema node allows (a <c>type</c> array is several of them).</summary>
[Flags]
internal enum SchemaTypes : byte
{
    None = 0,
    String = 1,
    Number = 2,
    Integer = 4,
    Boolean = 8,
    Null = 16,
    Array = 32,
    Object = 64,
}

/// <summary>One schema (sub)node after checking: the allowed types and what objects, arrays and string enums need.</summary>
internal sealed class SchemaNode
{
    public SchemaTypes Types { get; set; }

    /// <summary>The node every array element follows; -1 when arrays are not allowed.</summary>
    public int Items { get; set; } = -1;

    /// <summary>Root in <see cref="SchemaGrammar"/>'s trie of the allowed strings (<c>enum</c>/<c>const</c>); -1 for any string.</summary>
    public int Enum { get; set; } = -1;

    /// <summary>Root in the trie of this object's property names; -1 when objects are not allowed.</summary>
    public int Keys { get; set; } = -1;

    /// <summary>Property i's value node, in declared order (at most 64 properties: one bit each in the masks).</summary>
    public int[] Properties { get; set; } = [];

    /// <summary>Bit i set: property i is required.</summary>
    public ulong Required { get; set; }
}

/// <summary>
/// A JSON schema compiled for <see cref="SchemaRecognizer"/>: a table of nodes (node 0 the root) and one byte trie
/// holding every object's property names and every string enum, each spelled as the recognizer requires it
/// (<see cref="JsonSchemaCompiler.Spell"/>) and ended by the closing quote, so that reaching a terminal node is
/// reading the string's last byte. Immutable once built; shared by every run of the same response format.
/// </summary>
internal sealed class SchemaGrammar
{
    private readonly Dictionary<int, int> _edges = [];   // (trie node << 8 | byte) → child node
    private readonly List<int> _terminal = [];           // the property index (or 0 for an enum value) a node ends; -1 if none
    private readonly List<ulong> _reach = [];            // the properties whose names pass through a node (enum tries: 1)

    public List<SchemaNode> Nodes { get; } = [];

    /// <summary>Containers (objects and arrays) nested deepest in the schema; what bounds the recognizer's stack.</summary>
    public int Nesting { get; set; }

    public int NewTrie() => AddTrieNode();

    /// <summary>Adds <paramref name="spelled"/> below <paramref name="root"/>, ending in terminal <paramref name="value"/>.</summary>
    public void AddString(int root, ReadOnlySpan<byte> spelled, int value, ulong reach)
    {
        var node = root;
        _reach[node] |= reach;
        foreach (var b in spelled)
        {
            if (!_edges.TryGetValue(node << 8 | b, out var child))
            {
                child = AddTrieNode();
                _edges[node << 8 | b] = child;
            }
            node = child;
            _reach[node] |= reach;
        }
        _terminal[node] = value;
    }

    /// <summary>The trie node after <paramref name="b"/>, or -1 when no string continues that way.</summary>
    public int Step(int node, byte b) => _edges.TryGetValue(node << 8 | b, out var child) ? child : -1;

    public int Terminal(int node) => _terminal[node];

    public ulong Reach(int node) => _reach[node];

    private int AddTrieNode()
    {
        _terminal.Add(-1);
        _reach.Add(0);
        return _terminal.Count - 1;
    }
}
