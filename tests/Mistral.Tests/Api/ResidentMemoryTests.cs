using System.Globalization;
using Mistral.Gguf;
using Mistral.Interop;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>
/// Memory a loaded model keeps: the weights once. On CPUs with AVX-512 VNNI the core copies Q4_0/Q8_0
/// matrices into its own layout at load; reading them for that copy pulls the file's pages in, and unless
/// the core drops them again (MST_TENSOR_FILE_MAPPED) the process holds the weights twice.
/// </summary>
[TestFixture]
public class ResidentMemoryTests
{
    [TestCase(GgmlType.Q4_0)]
    [TestCase(GgmlType.Q8_0)]
    public void Repacked_matrices_leave_no_file_pages_resident(GgmlType type)
    {
        IgnoreUnlessRepacking();
        using var dir = new TempDir();
        var path = WriteModel(dir, "resident.gguf", type);
        long fileBytes = new FileInfo(path).Length, copied, tensors;
        using (var file = GgufFile.Open(path))
        {
            // every matrix but the embedding (looked up row by row in place) is copied at load
            copied = file.Tensors.Where(t => t.Dimensions.Length == 2 && t.Name != "token_embd.weight").Sum(t => (long)t.ByteSize);
            tensors = file.Tensors.Count;
        }

        using var model = MistralModel.Load(path, new ModelOptions { Threads = 1 });
        using var session = model.CreateSession();
        session.Evaluate([1, 300, 301]); // the forward pass reads the copies, never the dropped pages
        long resident = MappedResidentBytes(path);

        // Without dropping, the copy made every page of the copied matrices resident: resident ≈ fileBytes.
        // What may stay: the rest of the file (header, norms, embedding) plus the two partial edge pages of
        // each tensor, which neighbours share.
        long allowed = fileBytes - copied + tensors * 2L * Environment.SystemPageSize;
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{type}: file {fileBytes:N0} B, copied at load {copied:N0} B, file pages resident {resident:N0} B (allowed {allowed:N0})"));
        Assert.That(copied, Is.GreaterThan(fileBytes / 2), "the test model must be mostly copied matrices");
        Assert.That(resident, Is.LessThanOrEqualTo(allowed));
    }

    /// <summary>
    /// The copies are asked to live on transparent huge pages (madvise MADV_HUGEPAGE): decode streams every weight
    /// once per token, and 2 MiB pages measured ~20% faster decode on the 2-core Xeon (see weights_repack.c).
    /// Whether the kernel then finds free huge pages is its business; that it was asked is visible in
    /// /proc/self/smaps as the "hg" VmFlag of the copy's mapping, which goes away with the model.
    /// </summary>
    [Test]
    public void Repacked_matrices_are_advised_onto_huge_pages_while_the_model_lives()
    {
        IgnoreUnlessRepacking();
        if (!File.Exists("/sys/kernel/mm/transparent_hugepage/enabled")) Assert.Ignore("this kernel has no transparent huge pages");
        using var dir = new TempDir();
        var path = WriteModel(dir, "huge.gguf", GgmlType.Q4_0);
        long copied;
        using (var file = GgufFile.Open(path))
            copied = file.Tensors.Where(t => t.Dimensions.Length == 2 && t.Name != "token_embd.weight").Sum(t => (long)t.ByteSize);

        long before = HugePageAdvisedBytes(), during;
        using (var model = MistralModel.Load(path, new ModelOptions { Threads = 1 }))
        {
            during = HugePageAdvisedBytes();
        }

        long after = HugePageAdvisedBytes();
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"huge-page advised bytes: before {before:N0}, with the model {during:N0}, after {after:N0}; copied {copied:N0}"));
        Assert.That(during - before, Is.GreaterThanOrEqualTo(copied), "the whole copy is advised");
        Assert.That(during - before, Is.LessThan(copied + (4L << 20)), "rounded up to 2 MiB, not more");
        Assert.That(after, Is.EqualTo(before), "the advised copy is freed with the model");
    }

    /// <summary>Ignores the test where the core copies nothing at load (no /proc, no VNNI, or MISTRAL_REPACK=0).</summary>
    private static unsafe void IgnoreUnlessRepacking()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("reads /proc/self/smaps");
        uint features;
        Assert.That(NativeMethods.mst_cpu_features(&features), Is.EqualTo(mst_status.MST_OK));
        if ((features & (uint)mst_cpu_feature.MST_CPU_AVX512VNNI) == 0) Assert.Ignore("no AVX-512 VNNI: this CPU runs the file's layout, nothing is copied");
        if (Environment.GetEnvironmentVariable("MISTRAL_REPACK") == "0") Assert.Ignore("MISTRAL_REPACK=0 turns repacking off");
    }

    /// <summary>A 4-layer synthetic model of <paramref name="type"/> matrices, 8 MB in Q4_0, mostly copied at load.</summary>
    private static string WriteModel(TempDir dir, string name, GgmlType type)
    {
        var path = dir.File(name);
        SyntheticModel.Write(path, new SyntheticModelSpec
        {
            VocabSize = 2048, EmbeddingLength = 512, LayerCount = 4, HeadCount = 8, KvHeadCount = 2,
            FeedForwardLength = 1536, WeightType = type,
        });
        return path;
    }

    /// <summary>Bytes of the mappings of this process that carry the MADV_HUGEPAGE flag ("hg" in VmFlags).</summary>
    private static long HugePageAdvisedBytes()
    {
        long total = 0, size = 0;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 3 && fields[0] == "Size:")
                size = long.Parse(fields[1], CultureInfo.InvariantCulture) * 1024;
            else if (fields.Length > 0 && fields[0] == "VmFlags:" && fields.Contains("hg"))
                total += size;
        }

        return total;
    }

    /// <summary>Resident bytes of every mapping of <paramref name="path"/> in this process.</summary>
    private static long MappedResidentBytes(string path)
    {
        long total = 0;
        var inFile = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                inFile = line.EndsWith(" " + path, StringComparison.Ordinal); // a mapping's header line
            }
            else if (inFile && fields.Length == 3 && fields[0] == "Rss:")
            {
                total += long.Parse(fields[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return total;
    }
}
