using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// A structured fuzz campaign over the whole model loader (GGUF reader, config, tokenizer, tensor table,
/// native validation) and a short generation on whatever loads. Every mutated file must either load and
/// generate, or fail with one of the documented exceptions — never crash, hang, or throw anything else.
/// CI runs <see cref="DefaultCases"/> cases; set MISTRAL_FUZZ_CASES for a longer campaign.
/// </summary>
[TestFixture]
[Category("Fuzz")]
public class ModelLoaderFuzzTests
{
    private const int DefaultCases = 400;

    /// <summary>What a bad model file may throw: a bad file, an unsupported feature, or a native check naming the tensor.</summary>
    private static bool IsDocumented(Exception ex) =>
        ex is GgufFormatException or NotSupportedException or ArgumentException;

    private SmallModel _model = null!;
    private byte[] _original = [];
    private long _dataOffset;
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void Write()
    {
        _model = new SmallModel(GgmlType.Q4_0, contextLength: 64);
        _original = File.ReadAllBytes(_model.Path);
        using (var file = GgufFile.Open(_model.Path)) _dataOffset = file.DataOffset;
        _dir = new TempDir();
    }

    [OneTimeTearDown]
    public void Delete()
    {
        _model.Dispose();
        _dir.Dispose();
    }

    private static int CaseCount =>
        int.TryParse(Environment.GetEnvironmentVariable("MISTRAL_FUZZ_CASES"), out var n) && n > 0 ? n : DefaultCases;

    [Test]
    public void Mutated_models_load_and_run_or_fail_with_a_documented_exception()
    {
        var random = new Random(20261129);
        var outcomes = new Dictionary<string, int>();
        var path = _dir.File("mutant.gguf");
        for (var i = 0; i < CaseCount; i++)
        {
            var (kind, bytes) = Mutate(random);
            File.WriteAllBytes(path, bytes);
            string outcome;
            try
            {
                using var model = MistralModel.Load(path, new ModelOptions { Threads = 1, ContextLength = 32 });
                // Whatever loads must also run: garbage weights may give NaN logits, never a crash.
                model.Generate("ab", new GenerationOptions { MaxTokens = 3, Seed = (ulong)i });
                outcome = "loaded and generated";
            }
            catch (Exception ex) when (IsDocumented(ex))
            {
                Assert.That(ex.Message, Is.Not.Empty, $"case {i} ({kind}): an exception without a message");
                outcome = ex.GetType().Name;
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {i} ({kind}) threw an undocumented {ex.GetType().Name}: {ex}");
                return;
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        TestContext.Out.WriteLine($"{CaseCount} cases: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")));
        Assert.That(outcomes.Keys, Has.Some.Not.EqualTo("loaded and generated"), "the mutations never produced a bad file; the fuzzer is not fuzzing");
    }

    private (string Kind, byte[] Bytes) Mutate(Random random)
    {
        var bytes = (byte[])_original.Clone();
        var header = (int)_dataOffset;
        switch (random.Next(6))
        {
            case 0: // truncation anywhere
                return ("truncate", bytes[..random.Next(bytes.Length)]);
            case 1: // a few bit flips in the header, metadata and tensor directory
                for (var k = random.Next(1, 4); k > 0; k--)
                    bytes[random.Next(header)] ^= (byte)(1 << random.Next(8));
                return ("header bit flips", bytes);
            case 2: // an extreme 32- or 64-bit value over a header field
            {
                var at = random.Next(header - 8);
                ulong[] extremes = [0, 1, uint.MaxValue, int.MaxValue, (ulong)int.MaxValue + 1, ulong.MaxValue, long.MaxValue, 1UL << 40];
                BitConverter.TryWriteBytes(bytes.AsSpan(at), extremes[random.Next(extremes.Length)]);
                return ("extreme value", bytes);
            }
            case 3: // garbage in the weights: loads, and must still run
                for (var k = random.Next(1, 64); k > 0; k--)
                    bytes[header + random.Next(bytes.Length - header)] = (byte)random.Next(256);
                return ("weight garbage", bytes);
            case 4: // a swapped pair of bytes in the directory (types, dims, offsets)
            {
                var a = random.Next(header);
                var b = random.Next(header);
                (bytes[a], bytes[b]) = (bytes[b], bytes[a]);
                return ("header swap", bytes);
            }
            default: // every half-precision scale in the weights set to infinity or NaN
            {
                var value = random.Next(2) == 0 ? (ushort)0x7C00 : (ushort)0x7E00;
                for (var at = header; at + 18 <= bytes.Length; at += 18 * random.Next(1, 50))
                    BitConverter.TryWriteBytes(bytes.AsSpan(at), value);
                return ("non-finite scales", bytes);
            }
        }
    }
}
