using System.Globalization;
using System.Text;
using Mistral.Gguf;
using Mistral.HostileInput.Gguf;

namespace Mistral.HostileInput.Mutations;

/// <summary>Mutations of the metadata: value types and tags, duplicated keys and tensors, the tokenizer's arrays.</summary>
internal static class MetadataMutations
{
    private static readonly uint[] InvalidTags = [13, 14, 100, 0x80000000, uint.MaxValue];

    public static MutationKind MetadataType { get; } = new("metadata-type",
        "a metadata value stored as another type (re-encoded: integers as narrower, signed, float, string, bool or array; " +
        "strings as numbers; arrays with another element type or as scalars), or its type tag changed with the payload " +
        "left as it was (a valid tag that misreads it, or an invalid one)", ctx =>
        {
            var image = ctx.Image;
            var index = ctx.Random.Next(image.Metadata.Count);
            var entry = image.Metadata[index];
            var value = ctx.Base.Values[entry.Key];
            switch (ctx.Random.Next(5))
            {
                case 0:
                {
                    var tag = ctx.Chance(0.5) ? ctx.Pick(InvalidTags) : (uint)ctx.Pick(Enum.GetValues<GgufValueType>().Where(t => (uint)t != entry.Tag).ToList());
                    image.Metadata[index] = entry with { Tag = tag };
                    return ctx.Written($"type tag of '{entry.Key}' {(GgufValueType)entry.Tag} -> {TagName(tag)}, payload unchanged");
                }
                case 1 when entry.PayloadFields.FirstOrDefault(f => f.Class == FieldClass.TypeTag) is { } elementTag:
                {
                    var payload = (byte[])entry.Payload.Clone();
                    var tag = ctx.Chance(0.5) ? ctx.Pick(InvalidTags) : (uint)ctx.Random.Next(13);
                    BitConverter.TryWriteBytes(payload.AsSpan((int)elementTag.Offset), tag);
                    image.Metadata[index] = entry with { Payload = payload };
                    return ctx.Written($"element type of '{entry.Key}' {value.ElementType} -> {TagName(tag)}, elements unchanged");
                }
                default:
                {
                    var (what, retyped) = ctx.Pick(Retypings(value));
                    image.Set(entry.Key, retyped);
                    return ctx.Written($"'{entry.Key}' ({Describe(value)}) stored as {what}");
                }
            }
        });

    private static string TagName(uint tag) => Enum.IsDefined((GgufValueType)tag) ? ((GgufValueType)tag).ToString() : $"tag {tag}";

    private static string Describe(GgufValue v) => v.Type == GgufValueType.Array ? $"{v.ElementType}[{v.ArrayLength}]" : $"{v.Type} {v}";

    /// <summary>The same value (as near as the type allows) under other types.</summary>
    private static List<(string, GgufValue)> Retypings(GgufValue v)
    {
        var list = new List<(string, GgufValue)>();
        switch (v.Type)
        {
            case GgufValueType.Array:
                var n = v.ArrayLength;
                list.Add(($"UInt32 {n}", GgufValue.From((uint)n)));
                list.Add(("an empty array", v.ElementType == GgufValueType.String ? GgufValue.FromArray(Array.Empty<string>()) : GgufValue.FromArray(Array.Empty<int>())));
                list.Add(("an array of that array", GgufValue.FromArray([v])));
                list.Add(($"Int32[{n}] of zeros", GgufValue.FromArray(new int[n])));
                list.Add(($"String[{n}]", GgufValue.FromArray(Enumerable.Repeat("0", n).ToArray())));
                list.Add(($"Float64[{n}]", GgufValue.FromArray(new double[n])));
                list.Add(($"Bool[{n}]", GgufValue.FromArray(new bool[n])));
                break;
            case GgufValueType.String:
                var s = v.AsString();
                list.Add(("UInt32 0", GgufValue.From(0u)));
                list.Add(("Float32 1", GgufValue.From(1f)));
                list.Add(("Bool true", GgufValue.From(true)));
                list.Add(("String[1]", GgufValue.FromArray([s])));
                list.Add(("an empty String", GgufValue.From("")));
                break;
            case GgufValueType.Float32 or GgufValueType.Float64:
                var x = v.AsDouble();
                list.Add(("Float64", GgufValue.From(x)));
                list.Add(("UInt32", GgufValue.From((uint)Math.Clamp(x, 0, uint.MaxValue))));
                list.Add(("Int8", GgufValue.From((sbyte)Math.Clamp(x, sbyte.MinValue, sbyte.MaxValue))));
                list.Add(("String", GgufValue.From(x.ToString(CultureInfo.InvariantCulture))));
                list.Add(("Float32[1]", GgufValue.FromArray([(float)x])));
                break;
            case GgufValueType.Bool:
                list.Add(("UInt8 1", GgufValue.From((byte)1)));
                list.Add(("UInt32 2", GgufValue.From(2u)));
                list.Add(("String \"true\"", GgufValue.From("true")));
                list.Add(("Bool[1]", GgufValue.FromArray([v.AsBoolean()])));
                break;
            default:
                var i = v.AsInt64();
                list.Add(("UInt8 (wrapped)", GgufValue.From(unchecked((byte)i))));
                list.Add(("Int8 (wrapped)", GgufValue.From(unchecked((sbyte)i))));
                list.Add(("UInt16", GgufValue.From(unchecked((ushort)i))));
                list.Add(("Int16 negated", GgufValue.From(unchecked((short)-i))));
                list.Add(("Int32 -1", GgufValue.From(-1)));
                list.Add(("UInt64", GgufValue.From((ulong)i)));
                list.Add(("Int64 negated", GgufValue.From(-i)));
                list.Add(("Float32", GgufValue.From((float)i)));
                list.Add(("Float64 plus a half", GgufValue.From(i + 0.5)));
                list.Add(("Bool", GgufValue.From(i != 0)));
                list.Add(("String", GgufValue.From(i.ToString(CultureInfo.InvariantCulture))));
                list.Add(("UInt32[1]", GgufValue.FromArray([(uint)i])));
                list.Add(("UInt32[3] that differ", GgufValue.FromArray([(uint)i, (uint)i + 1, (uint)i + 2])));
                break;
        }
        return list;
    }

    public static MutationKind DuplicateKey { get; } = new("duplicate-key",
        "a metadata key or a tensor name twice: the same value, a different one, first or last", ctx =>
        {
            var image = ctx.Image;
            if (ctx.Chance(0.3))
            {
                var t = ctx.PickTensor();
                var copy = t.Clone();
                var other = ctx.Chance(0.5);
                if (other)
                {
                    var donor = ctx.PickTensor();
                    (copy.Dims, copy.Type, copy.Data) = ((ulong[])donor.Dims.Clone(), donor.Type, donor.Data);
                }
                image.Tensors.Insert(ctx.Chance(0.5) ? image.Tensors.Count : 0, copy);
                return ctx.Written($"tensor '{t.Name}' twice{(other ? ", the second of another shape" : "")}");
            }

            var entry = ctx.Pick(image.Metadata);
            var value = ctx.Base.Values[entry.Key];
            var differs = ctx.Chance(0.5);
            var duplicate = differs ? ValueCodec.Entry(entry.Key, Different(value)) : entry;
            var where = ctx.Random.Next(3);
            image.Metadata.Insert(where switch { 0 => 0, 1 => image.IndexOfKey(entry.Key) + 1, _ => image.Metadata.Count }, duplicate);
            return ctx.Written($"key '{entry.Key}' twice{(differs ? " with different values" : "")}, the copy {(where == 0 ? "first" : where == 1 ? "next to it" : "last")}");
        });

    private static GgufValue Different(GgufValue v) => v.Type switch
    {
        GgufValueType.String => GgufValue.From(v.AsString() == "llama" ? "gpt2" : v.AsString() + "x"),
        GgufValueType.Array when v.ElementType == GgufValueType.String => GgufValue.FromArray(v.AsArray<string>()[..^1]),
        GgufValueType.Array => GgufValue.FromArray(Array.Empty<int>()),
        GgufValueType.Float32 or GgufValueType.Float64 => GgufValue.From((float)v.AsDouble() * 2),
        GgufValueType.Bool => GgufValue.From(!v.AsBoolean()),
        _ => GgufValue.From((uint)(v.AsInt64() + 1)),
    };

    public static MutationKind TokenizerArray { get; } = new("tokenizer-array",
        "the tokenizer's arrays disagreeing (tokens, scores, token_type lengths), special token ids out of range, empty, " +
        "duplicate or invalid-UTF-8 token strings, invalid token types, non-finite scores, an unknown or missing model", ctx =>
        {
            var image = ctx.Image;
            var values = ctx.Base.Values;
            var tokens = values["tokenizer.ggml.tokens"].AsArray<string>();
            var scores = values["tokenizer.ggml.scores"].AsArray<float>();
            var types = values["tokenizer.ggml.token_type"].AsArray<int>();
            var v = tokens.Length;
            int Resized() => ctx.Pick(new[] { 0, 1, v - 1, v + 1, 2 * v });
            T[] Resize<T>(T[] a, int n, T fill) => [.. a.Take(n), .. Enumerable.Repeat(fill, Math.Max(0, n - a.Length))];
            switch (ctx.Random.Next(13))
            {
                case 0:
                {
                    var n = Resized();
                    image.Set("tokenizer.ggml.scores", GgufValue.FromArray(Resize(scores, n, -1f)));
                    return ctx.Written($"{n} scores for {v} tokens");
                }
                case 1:
                {
                    var n = Resized();
                    image.Set("tokenizer.ggml.token_type", GgufValue.FromArray(Resize(types, n, 1)));
                    return ctx.Written($"{n} token types for {v} tokens");
                }
                case 2:
                {
                    // All three arrays agree; they disagree with llama.vocab_size and the embedding's rows.
                    var n = ctx.Pick(new[] { v - 1, v + 1, 259, 3 });
                    image.Set("tokenizer.ggml.tokens", GgufValue.FromArray(Resize(tokens, n, "").Select((t, i) => i < v ? t : $"extra{i}").ToArray()));
                    image.Set("tokenizer.ggml.scores", GgufValue.FromArray(Resize(scores, n, -1f)));
                    image.Set("tokenizer.ggml.token_type", GgufValue.FromArray(Resize(types, n, 1)));
                    return ctx.Written($"{n} tokens (with as many scores and types) in a model of vocabulary {v}");
                }
                case 3:
                {
                    var key = ctx.Pick(new[] { "bos", "eos", "unknown", "padding", "seperator", "mask" });
                    var id = ctx.Pick(new[] { (uint)v, (uint)v + 1, (uint)int.MaxValue, uint.MaxValue });
                    if (ctx.Chance(0.2)) image.Set($"tokenizer.ggml.{key}_token_id", GgufValue.From(-1));
                    else image.Set($"tokenizer.ggml.{key}_token_id", GgufValue.From(id));
                    return ctx.Written($"tokenizer.ggml.{key}_token_id out of range (vocabulary {v})");
                }
                case 4:
                {
                    var at = ctx.Pick(new[] { 0, 1, 2, 3 + ctx.Random.Next(256), 259 + ctx.Random.Next(v - 259) });
                    tokens[at] = "";
                    image.Set("tokenizer.ggml.tokens", GgufValue.FromArray(tokens));
                    return ctx.Written($"token {at} is the empty string");
                }
                case 5:
                    image.Set("tokenizer.ggml.tokens", GgufValue.FromArray(new string[v].Select(_ => "").ToArray()));
                    return ctx.Written("every token is the empty string");
                case 6:
                {
                    var (a, b) = (ctx.Random.Next(v), ctx.Random.Next(v));
                    tokens[a] = tokens[b];
                    image.Set("tokenizer.ggml.tokens", GgufValue.FromArray(tokens));
                    return ctx.Written($"token {a} is a copy of token {b} ('{tokens[b]}')");
                }
                case 7:
                {
                    var at = ctx.Random.Next(v);
                    types[at] = ctx.Pick(new[] { 0, 7, 100, -1, int.MaxValue });
                    image.Set("tokenizer.ggml.token_type", GgufValue.FromArray(types));
                    return ctx.Written($"token_type[{at}] = {types[at]}");
                }
                case 8:
                {
                    var bad = ctx.Pick(new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity });
                    if (ctx.Chance(0.5)) Array.Fill(scores, bad);
                    else scores[ctx.Random.Next(v)] = bad;
                    image.Set("tokenizer.ggml.scores", GgufValue.FromArray(scores));
                    return ctx.Written($"scores hold {bad}");
                }
                case 9:
                {
                    var model = ctx.Pick(new[] { "gpt2", "bert", "", "none", "rwkv", "llama\0" });
                    image.Set("tokenizer.ggml.model", GgufValue.From(model));
                    return ctx.Written($"tokenizer.ggml.model = \"{model}\"");
                }
                case 10:
                {
                    var key = ctx.Pick(new[] { "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id" });
                    image.RemoveKey(key);
                    return ctx.Written($"'{key}' removed");
                }
                case 11:
                {
                    var raw = tokens.Select(t => Encoding.UTF8.GetBytes(t)).ToList();
                    var at = 259 + ctx.Random.Next(v - 259);
                    raw[at] = ctx.Pick(new[] { new byte[] { 0xFF, 0xFE }, [0xED, 0xA0, 0x80], [0xC3], [0x61, 0x00, 0x62] });
                    image.Set(ValueCodec.RawStringArray("tokenizer.ggml.tokens", raw));
                    return ctx.Written($"token {at} is not valid UTF-8 (or holds a NUL)");
                }
                default:
                {
                    var merges = ctx.Pick(new[] { new[] { "a b c" }, [""], ["\u2581 t", "zz qq"], ["a"] });
                    image.Set("tokenizer.ggml.merges", GgufValue.FromArray(merges));
                    if (ctx.Chance(0.5)) image.Set("tokenizer.ggml.model", GgufValue.From("gpt2"));
                    return ctx.Written($"tokenizer.ggml.merges = [{string.Join(", ", merges.Select(m => $"\"{m}\""))}]");
                }
            }
        });
}
