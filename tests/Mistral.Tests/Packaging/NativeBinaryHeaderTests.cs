using Mistral.Tests.Support;

namespace Mistral.Tests.Packaging;

/// <summary>
/// The header reader the package test relies on: on the repository's own libmistral.so, whose machine is the host's,
/// and on headers written here from the formats' documented offsets for the machines this host cannot build natively.
/// </summary>
[TestFixture]
public class NativeBinaryHeaderTests
{
    [Test]
    public void The_host_build_reads_as_the_host_machine()
    {
        var library = Path.Combine(RepoPaths.NativeBuildDir, "libmistral.so");
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            Assert.Ignore("the repository's native build is checked on Linux x64 only");
        Assert.That(NativeBinaryHeader.Describe(File.ReadAllBytes(library), library), Is.EqualTo("ELF x86-64 shared object"));
    }

    [Test]
    public void An_aarch64_elf_and_an_amd64_dll_are_told_apart()
    {
        var elf = new byte[64];
        "\x7F"u8.CopyTo(elf); "ELF"u8.CopyTo(elf.AsSpan(1));
        elf[4] = 2; elf[5] = 1; elf[16] = 3; elf[18] = 183; // ET_DYN, EM_AARCH64 (0x00B7)
        Assert.That(NativeBinaryHeader.Describe(elf, "elf"), Is.EqualTo("ELF AArch64 shared object"));

        var pe = new byte[0x100];
        pe[0] = (byte)'M'; pe[1] = (byte)'Z'; pe[0x3C] = 0x80;
        "PE\0\0"u8.CopyTo(pe.AsSpan(0x80));
        pe[0x84] = 0x64; pe[0x85] = 0x86;  // Machine 0x8664
        pe[0x80 + 23] = 0x20;              // Characteristics 0x2000: a DLL
        Assert.That(NativeBinaryHeader.Describe(pe, "pe"), Is.EqualTo("PE AMD64 DLL"));

        pe[0x80 + 23] = 0;
        Assert.That(NativeBinaryHeader.Describe(pe, "pe"), Is.EqualTo("PE AMD64 executable"));
    }

    [Test]
    public void Anything_else_is_refused_with_its_name()
    {
        Assert.That(() => NativeBinaryHeader.Describe("not a binary"u8.ToArray(), "runtimes/x/native/lib.so"),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("runtimes/x/native/lib.so"));
        var elf32 = new byte[64];
        "\x7F"u8.CopyTo(elf32); "ELF"u8.CopyTo(elf32.AsSpan(1));
        elf32[4] = 1; elf32[5] = 1;
        Assert.That(() => NativeBinaryHeader.Describe(elf32, "elf32"), Throws.TypeOf<InvalidDataException>().With.Message.Contains("not 64-bit"));
    }
}
