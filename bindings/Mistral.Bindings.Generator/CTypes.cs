namespace Mistral.Bindings.Generator;

// The header as the emitter sees it: C types already reduced to the handful of shapes the raw C#
// layer can mirror exactly. Anything castxml reports outside these shapes is rejected while reading
// (see CastXmlReader), so the emitter never has to guess.

/// <summary>A C type after typedefs, elaboration and cv-qualifiers have been looked through.</summary>
internal abstract record CType;

/// <summary>A fixed-width scalar, already named as its C# keyword (uint, long, float...).</summary>
internal sealed record PrimitiveType(string CSharpName) : CType;

internal sealed record VoidType : CType;

/// <summary>Plain <c>char</c>: kept apart from the integers because <c>const char*</c> means UTF-8 text.</summary>
internal sealed record CharType : CType;

/// <summary>A pointer; <see cref="PointeeIsConst"/> is what tells <c>const char*</c> (text in) from <c>char*</c> (a buffer).</summary>
internal sealed record PointerType(CType Pointee, bool PointeeIsConst) : CType;

internal sealed record ArrayType(CType Element, int Length) : CType;

internal sealed record EnumType(string Name) : CType;

/// <summary>
/// A C function type (castxml's FunctionType): only ever meaningful behind a pointer, where it becomes a
/// <see cref="FunctionPointerType"/>. Prototyped, not variadic, default calling convention: anything else is
/// refused while reading.
/// </summary>
internal sealed record FunctionSignature(CType ReturnType, IReadOnlyList<CType> Parameters) : CType;

/// <summary>A pointer to a function (a callback): mirrored as an unmanaged cdecl C# function pointer.</summary>
internal sealed record FunctionPointerType(FunctionSignature Signature) : CType;

/// <summary>A struct; opaque ones (declared, never defined) only ever travel behind pointers.</summary>
internal sealed record StructType(string Name, bool IsOpaque) : CType;

internal sealed record EnumMember(string Name, long Value);

internal sealed record EnumDecl(string Name, string UnderlyingType, IReadOnlyList<EnumMember> Members);

internal sealed record FieldDecl(string Name, CType Type);

internal sealed record StructDecl(string Name, IReadOnlyList<FieldDecl> Fields);

internal sealed record ParameterDecl(string Name, CType Type);

internal sealed record FunctionDecl(string Name, CType ReturnType, IReadOnlyList<ParameterDecl> Parameters);

/// <summary>Every declaration of the header, in declaration order.</summary>
internal sealed record HeaderModel(
    IReadOnlyList<EnumDecl> Enums,
    IReadOnlyList<StructDecl> Structs,
    IReadOnlyList<string> OpaqueStructs,
    IReadOnlyList<FunctionDecl> Functions);
