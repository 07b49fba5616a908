using System.Buffers.Binary;
using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// NaN/Inf in the weights never becomes a silently useless answer (greedy decoding of NaN logits picks token 0 every
/// step): the forward pass's logits are checked, a <see cref="NonFiniteOutputException"/> names the position, with
/// <see cref="SessionOptions.DiagnoseNonFinite"/> also the layer, and the session stays where it was. Vetting a file
/// up front (<see cref="ModelOptions.ScanWeightsForNonFinite"/>) names the tensor and the block.
/// </summary>
[TestFixtureSource(typeof(TestBackend), nameof(TestBackend.Both))]
public class NonFiniteTests(MistralBackend backend)
{
    private const ushort HalfNaN = 0x7E00;
    private SmallModel _model = null!; // Q8_0 matrices, F32 norms, 2 layers 64 wide
    private TempDir _dir = null!;
    private string _nanNorm = null!;      // NaN in blk.1.attn_norm: refused at load
    private string _nanFfn = null!;       // NaN scales in row 0 of blk.1.ffn_down: every token goes bad in layer 1
    private string _nanEmbedding = null!; // NaN scale in token 7's embedding row: only that token goes bad, at once

    [OneTimeSetUp]
    public void Write()
    {
        TestBackend.Require(backend);
        _model = new SmallModel(GgmlType.Q8_0, contextLength: 64);
        _dir = new TempDir();
        _nanNorm = _dir.File("nan-norm.gguf");
        GgufRewrite.Copy(_model.Path, _nanNorm, tensors: (t, data) =>
        {
            if (t.Name == "blk.1.attn_norm.weight") BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(5 * 4), float.NaN);
            return (t.Type, t.Dimensions, data);
        });
        _nanFfn = _dir.File("nan-ffn.gguf");
        GgufRewrite.Copy(_model.Path, _nanFfn, tensors: (t, data) =>
        {
            if (t.Name == "blk.1.ffn_down.weight") // Q8_0 [96 -> 64]: row 0 is 3 blocks of 34 bytes
                foreach (var block in new[] { 0, 1, 2 }) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(block * 34), HalfNaN);
            return (t.Type, t.Dimensions, data);
        });
        _nanEmbedding = _dir.File("nan-embedding.gguf");
        GgufRewrite.Copy(_model.Path, _nanEmbedding, tensors: (t, data) =>
        {
            if (t.Name == "token_embd.weight") BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(7 * 68), HalfNaN); // row 7, block 0's scale
            return (t.Type, t.Dimensions, data);
        });
    }

    [OneTimeTearDown]
    public void Delete()
    {
        _model?.Dispose();
        _dir?.Dispose();
    }

    private MistralModel Load(string path, bool scan = false) =>
        MistralModel.Load(path, TestBackend.Options(backend, 1) with { ContextLength = 32, ScanWeightsForNonFinite = scan });

    [Test]
    public void Nan_logits_stop_evaluation_naming_the_position_and_leave_the_session_where_it_was()
    {
        using var model = Load(_nanFfn);
        using var session = model.CreateSession();
        var ex = Assert.Throws<NonFiniteOutputException>(() => session.Evaluate([1, 20, 30]));
        Assert.That(ex!.Position, Is.EqualTo(2), "the last token's logits are the ones computed");
        Assert.That(ex.Layer, Is.Null, "layers are checked only when asked");
        Assert.That(ex.Message, Does.Contain("position 2").And.Contain("not finite"));
        Assert.That(session.Position, Is.Zero);
    }

    [Test]
    public void Every_row_is_checked_when_every_logit_is_asked_for()
    {
        using var model = Load(_nanEmbedding);
        using var session = model.CreateSession();
        session.Evaluate([1, 20]); // clean tokens: fine
        // Token 7 leads the batch: checking only the last row would report position 3 or nothing.
        var ex = Assert.Throws<NonFiniteOutputException>(() => session.Evaluate([7, 40], allLogits: true));
        Assert.That(ex!.Position, Is.EqualTo(2), "token 7 at position 2 is the first bad row");
        Assert.That(session.Position, Is.EqualTo(2), "the failed call added nothing");
        Assert.That(session.Evaluate([30]).All(float.IsFinite), Is.True, "the session goes on from where it was");
    }

    [Test]
    public void Diagnosing_names_the_first_layer_that_produced_nan()
    {
        using var model = Load(_nanFfn);
        using var session = model.CreateSession(new SessionOptions { DiagnoseNonFinite = true });
        var ex = Assert.Throws<NonFiniteOutputException>(() => session.Evaluate([1, 20, 30]));
        Assert.That(ex!.Layer, Is.EqualTo(1));
        Assert.That(ex.Position, Is.Zero, "every token goes bad in layer 1; the first is named");
        Assert.That(ex.Message, Does.Contain("layer 1 produced NaN/Inf"));
    }

    [Test]
    public void Diagnosing_a_bad_embedding_row_names_the_embedding_and_the_token_position()
    {
        using var model = Load(_nanEmbedding);
        using var session = model.CreateSession(new SessionOptions { DiagnoseNonFinite = true });
        var ex = Assert.Throws<NonFiniteOutputException>(() => session.Evaluate([1, 20, 7, 30]));
        Assert.That(ex!.Layer, Is.EqualTo(-1));
        Assert.That(ex.Position, Is.EqualTo(2));
    }

    [Test]
    public void A_nan_norm_weight_is_refused_at_load_naming_the_norm_and_layer()
    {
        // A NaN norm would not even show at run time: quantizing the activations for a matmul turns it into an integer.
        var ex = Assert.Throws<GgufFormatException>(() => Load(_nanNorm).Dispose());
        Assert.That(ex!.Message, Does.Contain("attn_norm (layer 1)").And.Contain("NaN/Inf at element 5"));
    }

    [Test]
    public void Generation_throws_instead_of_returning_token_zero_forever()
    {
        using var model = Load(_nanFfn);
        Assert.Throws<NonFiniteOutputException>(() => model.Generate("hello", GenerationOptions.Greedy(8)));
    }

    [Test]
    public void The_cli_prints_the_position_and_with_diagnosis_the_layer_and_exits_1()
    {
        if (backend != MistralBackend.Cpu) Assert.Ignore("the CLI runs on the CPU fixture only");
        var plain = CliProcess.Run("generate", "--model", _nanFfn, "--prompt", "hello", "--max-tokens", "4", "--temperature", "0", "--threads", "1");
        Assert.That(plain.ExitCode, Is.EqualTo(1), plain.StdErr);
        Assert.That(plain.StdErr, Does.Contain("not finite").And.Contain("position").And.Not.Contain("   at "));
        var diagnosed = CliProcess.Run("generate", "--model", _nanFfn, "--prompt", "hello", "--max-tokens", "4", "--temperature", "0", "--threads", "1", "--diagnose-nonfinite");
        Assert.That(diagnosed.ExitCode, Is.EqualTo(1), diagnosed.StdErr);
        Assert.That(diagnosed.StdErr, Does.Contain("layer 1 produced NaN/Inf at position 0"));
        var scanned = CliProcess.Run("generate", "--model", _nanEmbedding, "--prompt", "hello", "--max-tokens", "4", "--threads", "1", "--scan-weights");
        Assert.That(scanned.ExitCode, Is.EqualTo(1), scanned.StdErr);
        Assert.That(scanned.StdErr, Does.Contain("'token_embd.weight'"));
    }

    [Test]
    public void A_clean_model_passes_the_weight_scan_and_the_layer_checks_and_gives_the_same_logits()
    {
        using var plain = Load(_model.Path);
        using var scanned = Load(_model.Path, scan: true);
        using var a = plain.CreateSession();
        using var b = scanned.CreateSession(new SessionOptions { DiagnoseNonFinite = true });
        Assert.That(b.Evaluate([1, 20, 30]), Is.EqualTo(a.Evaluate([1, 20, 30])), "the checks only read");
    }

    [Test]
    public void The_weight_scan_names_the_tensor_and_block()
    {
        var ex = Assert.Throws<GgufFormatException>(() => Load(_nanEmbedding, scan: true).Dispose());
        Assert.That(ex!.Message, Does.Contain("'token_embd.weight'").And.Contain("block 14"), "row 7 of 2 blocks: block 14");
        ex = Assert.Throws<GgufFormatException>(() => Load(_nanNorm, scan: true).Dispose());
        Assert.That(ex!.Message, Does.Contain("'blk.1.attn_norm.weight'").And.Contain("element 5"));
    }
}
