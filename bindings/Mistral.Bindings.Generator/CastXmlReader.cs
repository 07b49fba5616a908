using System.Globalization;
using System.Xml.Linq;

namespace Mistral.Bindings.Generator;

/// <summary>
/// Reads castxml's XML (--castxml-output=1) into a <see cref="HeaderModel"/>. Only declarations made
/// in the header itself are taken; stdint.h and friends are seen only through the types they lend.
/// Every C construct without an exact blittable C# mirror throws a <see cref="NotSupportedException"/>
/// that names the declaration, because a guessed mapping would corrupt memory silently at run time.
/// </summary>
internal sealed class CastXmlReader
{
    // The <stdint.h> names are matched before their definitions are looked through: int64_t is
    // "long int" on Linux but "long long int" on Windows, and the C# side must not depend on that.
    private static readonly Dictionary<string, string> FixedWidthTypedefs = new(StringComparer.Ordinal)
    {
        ["int8_t"] = "sbyte",
        ["uint8_t"] = "byte",
        ["int16_t"] = "short",
        ["uint16_t"] = "ushort",
        ["int32_t"] = "int",
        ["uint32_t"] = "uint",
        ["int64_t"] = "long",
        ["uint64_t"] = "ulong",
        ["intptr_t"] = "nint",
        ["uintptr_t"] = "nuint",
        ["size_t"] = "nuint",
        ["ptrdiff_t"] = "nint",
    };

    // Fundamental types whose width is the same on every platform .NET runs on. "long" is left out on
    // purpose: it is 32 bits on Windows and 64 elsewhere.
    private static readonly Dictionary<string, string> PortableFundamentals = new(StringComparer.Ordinal)
    {
        ["signed char"] = "sbyte",
        ["unsigned char"] = "byte",
        ["short int"] = "short",
        ["short unsigned int"] = "ushort",
        ["int"] = "int",
        ["unsigned int"] = "uint",
        ["long long int"] = "long",
        ["long long unsigned int"] = "ulong",
        ["float"] = "float",
        ["double"] = "double",
    };

    private readonly Dictionary<string, XElement> _byId = new(StringComparer.Ordinal);

    // typedef struct { ... } name;  leaves the struct nameless: it is known by its typedef.
    private readonly Dictionary<string, string> _typedefNames = new(StringComparer.Ordinal);

    private CastXmlReader(XElement root)
    {
        foreach (var element in root.Elements())
        {
            if (element.Attribute("id")?.Value is { } id)
            {
                _byId[id] = element;
            }
        }
    }

    public static HeaderModel Read(XDocument document, string headerFullPath)
    {
        var root = document.Root ?? throw new InvalidOperationException("castxml produced an empty document.");
        var reader = new CastXmlReader(root);

        var headerFileIds = root.Elements("File")
            .Where(f => SamePath(f.Attribute("name")?.Value, headerFullPath))
            .Select(f => Attr(f, "id"))
            .ToHashSet(StringComparer.Ordinal);
        if (headerFileIds.Count == 0)
        {
            throw new InvalidOperationException($"castxml's output does not mention {headerFullPath}.");
        }

        // castxml lists declarations in source order already; the stable sort on the line number only
        // makes that explicit, so the generated file never depends on castxml's internal ordering.
        var declarations = root.Elements()
            .Where(e => e.Attribute("file")?.Value is { } file && headerFileIds.Contains(file))
            .Select((element, index) => (element, index))
            .OrderBy(d => LineOf(d.element))
            .ThenBy(d => d.index)
            .Select(d => d.element)
            .ToList();

        foreach (var typedef in declarations.Where(d => d.Name.LocalName == "Typedef"))
        {
            var target = reader.SkipElaboration(Attr(typedef, "type"));
            if (target.Name.LocalName is "Struct" or "Union" or "Enumeration" && string.IsNullOrEmpty(target.Attribute("name")?.Value))
            {
                reader._typedefNames.TryAdd(Attr(target, "id"), Attr(typedef, "name"));
            }
        }

        var enums = new List<EnumDecl>();
        var structs = new List<StructDecl>();
        var opaque = new List<string>();
        var functions = new List<FunctionDecl>();
        foreach (var declaration in declarations)
        {
            switch (declaration.Name.LocalName)
            {
                case "Enumeration":
                    enums.Add(reader.ReadEnum(declaration));
                    break;
                case "Struct" when declaration.Attribute("incomplete")?.Value == "1":
                    opaque.Add(reader.NameOf(declaration));
                    break;
                case "Struct":
                    structs.Add(reader.ReadStruct(declaration));
                    break;
                case "Union":
                    throw new NotSupportedException(
                        $"union '{reader.NameOf(declaration)}' (line {LineOf(declaration)}) is not supported: a union has no single blittable C# layout to generate.");
                case "Function" when declaration.Attribute("static")?.Value == "1":
                    // A static (inline) function exports no symbol, so there is nothing to import.
                    break;
                case "Function":
                    functions.Add(reader.ReadFunction(declaration));
                    break;
                case "Typedef":
                case "Field":
                    // Typedefs are looked through wherever they are used; fields belong to their struct.
                    break;
                default:
                    throw new NotSupportedException(
                        $"{declaration.Name.LocalName} '{declaration.Attribute("name")?.Value}' (line {LineOf(declaration)}) is not supported by the bindings generator.");
            }
        }

        return new HeaderModel(enums, structs, opaque, functions);
    }

    private EnumDecl ReadEnum(XElement element)
    {
        var name = NameOf(element);
        if (Attr(element, "size") != "32")
        {
            throw new NotSupportedException($"enum '{name}' is {Attr(element, "size")} bits wide; only 32-bit enums are mirrored.");
        }

        var members = element.Elements("EnumValue")
            .Select(v => new EnumMember(Attr(v, "name"), long.Parse(Attr(v, "init"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)))
            .ToList();

        // C enums are int-sized; "unsigned int" is what clang reports when no value is negative, yet the
        // values still fit an int, which is how C callers (and the C# mirror) treat them.
        string underlying;
        if (members.TrueForAll(m => m.Value is >= int.MinValue and <= int.MaxValue))
        {
            underlying = "int";
        }
        else if (members.TrueForAll(m => m.Value is >= 0 and <= uint.MaxValue))
        {
            underlying = "uint";
        }
        else
        {
            throw new NotSupportedException($"enum '{name}' has values that fit neither int nor uint.");
        }

        return new EnumDecl(name, underlying, members);
    }

    private StructDecl ReadStruct(XElement element)
    {
        var name = NameOf(element);
        var fields = new List<FieldDecl>();
        long offsetBits = 0;
        long alignBits = 8;
        var members = (element.Attribute("members")?.Value ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var field in members.Select(Get).Where(m => m.Name.LocalName == "Field"))
        {
            var fieldName = field.Attribute("name")?.Value ?? "";
            var where = $"field '{(fieldName.Length == 0 ? "(anonymous)" : fieldName)}' of struct '{name}'";
            if (fieldName.Length == 0)
            {
                throw new NotSupportedException($"{where} is an anonymous member, which has no C# mirror.");
            }

            if (field.Attribute("bits") is not null)
            {
                throw new NotSupportedException($"{where} is a bit-field, which has no C# mirror.");
            }

            CType type;
            (long Size, long Align) layout;
            try
            {
                type = Resolve(Attr(field, "type")).Type;
                layout = SizeAndAlign(Attr(field, "type"));
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"{where}: {e.Message}", e);
            }

            // A C# sequential struct places each field at the next multiple of its natural alignment,
            // exactly like an unpacked C struct. Checking castxml's offsets against that rule catches
            // #pragma pack and alignas, which the C# mirror would silently get wrong.
            offsetBits = AlignUp(offsetBits, layout.Align);
            var actual = long.Parse(Attr(field, "offset"), CultureInfo.InvariantCulture);
            if (actual != offsetBits)
            {
                throw new NotSupportedException(
                    $"{where} is at byte {actual / 8} in C but would be at byte {offsetBits / 8} in a C# sequential struct (packed or over-aligned?).");
            }

            offsetBits += layout.Size;
            alignBits = Math.Max(alignBits, layout.Align);
            fields.Add(new FieldDecl(fieldName, type));
        }

        if (fields.Count == 0)
        {
            throw new NotSupportedException($"struct '{name}' has no fields; C# cannot mirror a zero-sized struct.");
        }

        var size = long.Parse(Attr(element, "size"), CultureInfo.InvariantCulture);
        if (AlignUp(offsetBits, alignBits) != size)
        {
            throw new NotSupportedException(
                $"struct '{name}' is {size / 8} bytes in C but would be {AlignUp(offsetBits, alignBits) / 8} in C# (packed or over-aligned?).");
        }

        return new StructDecl(name, fields);
    }

    private FunctionDecl ReadFunction(XElement element)
    {
        var name = Attr(element, "name");
        if (element.Elements("Ellipsis").Any())
        {
            throw new NotSupportedException($"function '{name}' is variadic, which P/Invoke cannot call portably.");
        }

        CType returnType;
        try
        {
            returnType = Resolve(Attr(element, "returns")).Type;
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"return type of function '{name}': {e.Message}", e);
        }

        var parameters = new List<ParameterDecl>();
        foreach (var (argument, index) in element.Elements("Argument").Select((a, i) => (a, i)))
        {
            var parameterName = argument.Attribute("name")?.Value;
            if (string.IsNullOrEmpty(parameterName))
            {
                parameterName = "arg" + index.ToString(CultureInfo.InvariantCulture);
            }

            try
            {
                parameters.Add(new ParameterDecl(parameterName, Resolve(Attr(argument, "type")).Type));
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"parameter '{parameterName}' of function '{name}': {e.Message}", e);
            }
        }

        return new FunctionDecl(name, returnType, parameters);
    }

    /// <summary>Looks through typedefs and qualifiers down to one of the <see cref="CType"/> shapes.</summary>
    private (CType Type, bool IsConst) Resolve(string id)
    {
        var element = Get(id);
        switch (element.Name.LocalName)
        {
            case "Typedef":
                return FixedWidthTypedefs.TryGetValue(Attr(element, "name"), out var fixedWidth)
                    ? (new PrimitiveType(fixedWidth), false)
                    : Resolve(Attr(element, "type"));
            case "ElaboratedType":
                return Resolve(Attr(element, "type"));
            case "CvQualifiedType":
                var qualified = Resolve(Attr(element, "type"));
                return (qualified.Type, qualified.IsConst || element.Attribute("const")?.Value == "1");
            case "FundamentalType":
                var name = Attr(element, "name");
                if (PortableFundamentals.TryGetValue(name, out var cs))
                {
                    return (new PrimitiveType(cs), false);
                }

                return name switch
                {
                    "char" => (new CharType(), false),
                    "void" => (new VoidType(), false),
                    _ => throw new NotSupportedException(
                        $"C type '{name}' has no fixed-width C# equivalent (use the <stdint.h> types)."),
                };
            case "PointerType":
                var pointee = Resolve(Attr(element, "type"));
                return pointee.Type is FunctionSignature signature
                    ? (new FunctionPointerType(signature), false)
                    : (new PointerType(pointee.Type, pointee.IsConst), false);
            case "ArrayType":
                var max = element.Attribute("max")?.Value;
                if (string.IsNullOrEmpty(max))
                {
                    throw new NotSupportedException("an array of unknown size (flexible array member) has no C# mirror.");
                }

                var length = long.Parse(max, CultureInfo.InvariantCulture) - long.Parse(Attr(element, "min"), CultureInfo.InvariantCulture) + 1;
                var elementType = Resolve(Attr(element, "type"));
                return (new ArrayType(elementType.Type, checked((int)length)), elementType.IsConst);
            case "Enumeration":
                return (new EnumType(NameOf(element)), false);
            case "Struct":
                return (new StructType(NameOf(element), element.Attribute("incomplete")?.Value == "1"), false);
            case "Union":
                throw new NotSupportedException($"union '{NameOf(element)}' is not supported: a union has no single blittable C# layout to generate.");
            case "FunctionType":
                return (ReadSignature(element), false);
            default:
                throw new NotSupportedException($"castxml type kind '{element.Name.LocalName}' is not supported by the bindings generator.");
        }
    }

    /// <summary>
    /// A function type, as seen behind a function pointer (a callback the library calls). Only what a C# unmanaged
    /// function pointer mirrors exactly is taken: a prototype whose parameter and return types map on their own,
    /// no ellipsis, and the platform's default (cdecl) calling convention.
    /// </summary>
    private FunctionSignature ReadSignature(XElement element)
    {
        if (element.Elements("Ellipsis").Any())
        {
            throw new NotSupportedException("a variadic function pointer has no C# mirror.");
        }

        // castxml names a non-default calling convention (__stdcall__, __fastcall__, ...) in this attribute; the
        // C# side is always emitted as Cdecl, so any other convention would be called wrongly.
        if (element.Attribute("attributes")?.Value is { Length: > 0 } attributes)
        {
            throw new NotSupportedException($"a function pointer with attributes '{attributes}' (a non-default calling convention?) has no C# mirror.");
        }

        CType returnType;
        try
        {
            returnType = Resolve(Attr(element, "returns")).Type;
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"the return type of a function pointer: {e.Message}", e);
        }

        var parameters = new List<CType>();
        foreach (var (argument, index) in element.Elements("Argument").Select((a, i) => (a, i)))
        {
            try
            {
                parameters.Add(Resolve(Attr(argument, "type")).Type);
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"parameter {index.ToString(CultureInfo.InvariantCulture)} of a function pointer: {e.Message}", e);
            }
        }

        return new FunctionSignature(returnType, parameters);
    }

    /// <summary>Size and alignment in bits, as C lays the type out.</summary>
    private (long Size, long Align) SizeAndAlign(string id)
    {
        var element = Get(id);
        switch (element.Name.LocalName)
        {
            case "Typedef":
            case "ElaboratedType":
            case "CvQualifiedType":
                return SizeAndAlign(Attr(element, "type"));
            case "ArrayType":
                var (size, align) = SizeAndAlign(Attr(element, "type"));
                var length = long.Parse(Attr(element, "max"), CultureInfo.InvariantCulture) - long.Parse(Attr(element, "min"), CultureInfo.InvariantCulture) + 1;
                return (size * length, align);
            default:
                if (element.Attribute("size")?.Value is not { Length: > 0 } sizeText)
                {
                    throw new NotSupportedException($"'{element.Attribute("name")?.Value}' has no known size (an incomplete type by value?).");
                }

                return (long.Parse(sizeText, CultureInfo.InvariantCulture),
                        long.Parse(Attr(element, "align"), CultureInfo.InvariantCulture));
        }
    }

    private XElement SkipElaboration(string id)
    {
        var element = Get(id);
        return element.Name.LocalName == "ElaboratedType" ? SkipElaboration(Attr(element, "type")) : element;
    }

    private string NameOf(XElement element)
    {
        var name = element.Attribute("name")?.Value;
        if (!string.IsNullOrEmpty(name))
        {
            return name;
        }

        return _typedefNames.TryGetValue(Attr(element, "id"), out var typedefName)
            ? typedefName
            : throw new NotSupportedException(
                $"an anonymous {element.Name.LocalName.ToLowerInvariant()} at line {LineOf(element)} needs a name or a typedef to be mirrored.");
    }

    private XElement Get(string id) =>
        _byId.TryGetValue(id, out var element)
            ? element
            : throw new InvalidOperationException($"castxml output refers to the unknown id '{id}'.");

    private static string Attr(XElement element, string name) =>
        element.Attribute(name)?.Value
        ?? throw new InvalidOperationException($"castxml element {element.Name.LocalName} lacks the attribute '{name}'.");

    private static int LineOf(XElement element) =>
        int.TryParse(element.Attribute("line")?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var line) ? line : 0;

    private static long AlignUp(long value, long alignment) =>
        alignment <= 0 ? value : (value + alignment - 1) / alignment * alignment;

    private static bool SamePath(string? castxmlName, string headerFullPath)
    {
        if (string.IsNullOrEmpty(castxmlName) || castxmlName.StartsWith('<'))
        {
            return false;
        }

        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return string.Equals(Path.GetFullPath(castxmlName), headerFullPath, comparison);
    }
}
