using System.Buffers.Binary;

namespace Mistral.Tests.Packaging;

/// <summary>
/// Which machine a native library was built for, read from its header: enough to tell that the file packed under
/// runtimes/linux-arm64 is an AArch64 ELF and the one under win-x64 an AMD64 PE DLL, not a copy of the host's.
/// ELF: magic 7F 'E' 'L' 'F', e_ident[EI_CLASS] 2 = 64-bit, EI_DATA 1 = little-endian, e_type at 16 (3 = ET_DYN, a
/// shared object), e_machine at 18 (62 = EM_X86_64, 183 = EM_AARCH64). PE: 'MZ', e_lfanew at 0x3C pointing at
/// "PE\0\0", then the COFF header: Machine (0x8664 AMD64, 0xAA64 ARM64) and Characteristics at +22 (0x2000 = DLL).
/// </summary>
internal static class NativeBinaryHeader
{
    /// <summary>"ELF x86-64 shared object", "ELF AArch64 shared object", "PE AMD64 DLL", …; throws on anything else.</summary>
    public static string Describe(byte[] bytes, string name)
    {
        if (bytes.Length >= 20 && bytes[0] == 0x7F && bytes[1] == (byte)'E' && bytes[2] == (byte)'L' && bytes[3] == (byte)'F')
        {
            if (bytes[4] != 2 || bytes[5] != 1)
                throw new InvalidDataException($"{name}: an ELF file, but not 64-bit little-endian (class {bytes[4]}, data {bytes[5]})");
            var type = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(16));
            var machine = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(18));
            var machineName = machine switch { 62 => "x86-64", 183 => "AArch64", _ => $"machine {machine}" };
            return $"ELF {machineName} {(type == 3 ? "shared object" : $"type {type}")}";
        }
        if (bytes.Length >= 0x40 && bytes[0] == (byte)'M' && bytes[1] == (byte)'Z')
        {
            var pe = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(0x3C));
            if (pe < 0x40 || pe > bytes.Length - 24 || !bytes.AsSpan(pe, 4).SequenceEqual("PE\0\0"u8))
                throw new InvalidDataException($"{name}: an MZ file without a PE header (e_lfanew {pe})");
            var machine = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(pe + 4));
            var characteristics = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(pe + 22));
            var machineName = machine switch { 0x8664 => "AMD64", 0xAA64 => "ARM64", 0x14C => "i386", _ => $"machine 0x{machine:X4}" };
            return $"PE {machineName} {((characteristics & 0x2000) != 0 ? "DLL" : "executable")}";
        }
        throw new InvalidDataException($"{name}: neither an ELF nor a PE file ({bytes.Length} bytes)");
    }
}
