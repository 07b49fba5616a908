using Mistral.Gguf;
using Mistral.HostileInput.Campaign;
using Mistral.HostileInput.Gguf;
using Mistral.HostileInput.Models;
using Mistral.HostileInput.Mutations;
using Mistral.HostileInput.Oracle;
using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// The hostile-input campaign (tools/Mistral.HostileInput) at CI size, through its real supervisor and worker processes:
/// every mutated file must load and run with finite logits, be refused with a documented exception that names what is
/// wrong, or have its NaN/Inf detected — never abort, hang, drop a tensor or layer, or return NaN silently. And tests
/// of the campaign's own oracle, so that "0 bad" means something: a worker that dies or hangs is reported for exactly
/// the case in flight, and a loader that ignored a stray layer would be caught.
/// </summary>
[TestFixture]
[Category("Fuzz")]
public class HostileInputCampaignTests
{
    /// <summary>5 cases of every (kind, base) pair; a few seconds on 2 cores.</summary>
    private const long CiCases = 360;

    private const ulong CiSeed = 20260218;

    [Test]
    public void Ci_campaign_has_no_bad_outcome_and_every_kind_bites()
    {
        var result = new Supervisor(new CampaignOptions { Seed = CiSeed, Cases = CiCases, Workers = 2 }).Run();
        TestContext.Out.WriteLine(Report.Text(result));

        Assert.That(result.Cases, Has.Count.EqualTo(CiCases), "every case has an outcome");
        Assert.That(result.Cases.Select(c => (c.Kind, c.Base)).Distinct().Count(), Is.EqualTo(MutationKinds.All.Count * BaseModels.Names.Count),
            "every mutation kind ran on every base model");
        var bad = result.BadCases.Select(c => $"case {c.Index} {c.Kind} on {c.Base}: {c.Outcome} {c.Message} [{c.Description}]" +
            $"\n  replay: {Report.ReplayCommand(result, c.Index)}").ToList();
        Assert.That(bad, Is.Empty, "bad outcomes:\n" + string.Join('\n', bad));

        // A kind whose files all load untouched tests nothing: its mutations must make the library notice.
        var toothless = MutationKinds.All.Where(k => k.MustBite && !result.Cases.Any(c => c.Kind == k.Name && Outcomes.Bites(c.Outcome)))
            .Select(k => k.Name).ToList();
        Assert.That(toothless, Is.Empty, "kinds that never produced a refusal or a detection");
    }

    [Test]
    public void A_worker_that_aborts_costs_exactly_the_case_in_flight()
    {
        var result = SmallCampaign(Worker.AbortCaseVariable, 3, TimeSpan.FromSeconds(30));

        Assert.That(result.Cases, Has.Count.EqualTo(10), "the cases after the abort ran in a new worker");
        Assert.That(result.Cases.Single(c => c.Index == 3).Outcome, Is.EqualTo(Outcomes.Abort));
        Assert.That(result.Cases.Single(c => c.Index == 3).Message, Does.Contain("134").And.Contain("SIGABRT").And.Contain(Worker.AbortCaseVariable),
            "the exit code, the signal and what the worker said on stderr are reported");
        Assert.That(result.Cases.Where(c => c.Index != 3).Select(c => c.Outcome), Has.None.EqualTo(Outcomes.Abort).And.None.EqualTo(Outcomes.Hang));
        Assert.That(result.WorkerProcesses, Is.EqualTo(3), "one worker per chunk of 5, plus the one that took over after case 3");
    }

    [Test]
    public void A_worker_that_hangs_is_killed_and_costs_exactly_the_case_in_flight()
    {
        var result = SmallCampaign(Worker.HangCaseVariable, 7, TimeSpan.FromSeconds(3));

        Assert.That(result.Cases, Has.Count.EqualTo(10));
        Assert.That(result.Cases.Single(c => c.Index == 7).Outcome, Is.EqualTo(Outcomes.Hang));
        Assert.That(result.Cases.Where(c => c.Index != 7).Select(c => c.Outcome), Has.None.EqualTo(Outcomes.Abort).And.None.EqualTo(Outcomes.Hang));
        Assert.That(result.Cases.Single(c => c.Index == 9).Outcome, Does.StartWith(Outcomes.RefusedPrefix).Or.EqualTo(Outcomes.Loaded),
            "the case after the hang ran in a fresh worker");
    }

    /// <summary>10 quick cases (two kinds, one base) in chunks of 5 over 2 workers, with one test hook set for the workers.</summary>
    private static CampaignResult SmallCampaign(string hook, long atCase, TimeSpan caseTimeout) =>
        new Supervisor(new CampaignOptions
        {
            Seed = 1,
            Cases = 10,
            Kinds = MutationKinds.Parse("truncate,planted-count"),
            Bases = [BaseModels.Q4_0],
            Workers = 2,
            ChunkSize = 5,
            CaseTimeout = caseTimeout,
            WorkerEnvironment = new Dictionary<string, string> { [hook] = atCase.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        }).Run();

    [TestCaseSource(nameof(BaseNames))]
    public void Every_base_model_loads_runs_and_accounts_for_every_tensor(string baseName)
    {
        using var dir = new TempDir();
        var model = BaseModels.Create(baseName, dir.Path);
        var outcome = new CaseRunner(MistralBackend.Cpu).Run(dir.File("base.gguf"), new MutatedFile(model.Serialized.Bytes, "unmutated"));

        Assert.That(outcome.Outcome, Is.EqualTo(Outcomes.Loaded), outcome.Message);
        using var file = GgufFile.Open(dir.File("base.gguf"));
        Assert.That(TensorAccounting.FindSilentDrop(file, model.Shape.Layers), Is.Null, "the oracle accepts a valid file");
        if (baseName == BaseModels.Moe)
        {
            Assert.That(file.FindTensor("blk.1.ffn_down_exps.weight")!.Dimensions, Is.EqualTo(new long[] { model.Shape.Ff, model.Shape.Embd, 4 }));
            Assert.That(file.FindTensor("blk.1.ffn_down.weight"), Is.Null);
        }
    }

    private static IEnumerable<string> BaseNames() => BaseModels.Names;

    [Test]
    public void A_stray_layer_tensor_is_a_silent_drop_when_the_loader_accepts_it()
    {
        using var dir = new TempDir();
        var model = BaseModels.Create(BaseModels.Q4_0, dir.Path);
        var image = model.Image.Clone();
        var stray = image.Tensor("blk.0.attn_norm.weight")!.Clone();
        stray.Name = $"blk.{model.Shape.Layers}.attn_norm.weight";
        image.Tensors.Add(stray);
        var names = image.Tensors.Select(t => t.Name).ToList();

        // As if the loader had accepted the file and run block_count layers: the oracle must call it a drop.
        var verdict = TensorAccounting.FindSilentDrop(model.Values, names, loadedLayers: model.Shape.Layers);
        Assert.That(verdict, Does.Contain($"'{stray.Name}'"));
        // And a model that ran fewer layers than the file's tensors hold, with block_count saying so.
        var fewer = new Dictionary<string, GgufValue>(model.Values) { ["llama.block_count"] = GgufValue.From(1u) };
        Assert.That(TensorAccounting.FindSilentDrop(fewer, [.. model.Image.Tensors.Select(t => t.Name)], loadedLayers: 1), Does.Contain("blk.1."));
        // A loader that reports more layers than block_count.
        Assert.That(TensorAccounting.FindSilentDrop(model.Values, [.. model.Image.Tensors.Select(t => t.Name)], loadedLayers: 3), Does.Contain("block_count"));
        Assert.That(TensorAccounting.FindSilentDrop(model.Values, [.. model.Image.Tensors.Select(t => t.Name)], loadedLayers: model.Shape.Layers), Is.Null);

        // The library itself refuses the file (once its loader accounts for every tensor).
        var path = dir.File("stray.gguf");
        var outcome = new CaseRunner(MistralBackend.Cpu).Run(path, new MutatedFile(image.Serialize().Bytes, "stray"));
        Assert.That(outcome.Outcome, Does.StartWith(Outcomes.RefusedPrefix), outcome.Message);
    }

    [Test]
    public void Exceptions_are_classified_by_type_and_by_whether_the_message_names_something()
    {
        const string path = "/tmp/some-dir-42/case-7.gguf";
        Assert.Multiple(() =>
        {
            Assert.That(CaseRunner.Classify(new GgufFormatException("tensor 'blk.0.attn_q.weight' is short"), path).Outcome, Is.EqualTo("REFUSED-GgufFormatException"));
            Assert.That(CaseRunner.Classify(new NotSupportedException("type IQ2_XS (id 17) is not supported"), path).Outcome, Is.EqualTo("REFUSED-NotSupportedException"));
            Assert.That(CaseRunner.Classify(new MistralDeviceException("llama.embedding_length too large"), path).Outcome, Is.EqualTo("REFUSED-MistralDeviceException"));
            Assert.That(CaseRunner.Classify(new NonFiniteOutputException("NaN at position 2", 2, null), path).Outcome, Is.EqualTo(Outcomes.NonFiniteDetected));
            // The path alone names nothing, although it holds dots, digits and quotes.
            Assert.That(CaseRunner.Classify(new GgufFormatException("The file is bad.", path, null), path).Outcome, Is.EqualTo(Outcomes.VagueMessage));
            Assert.That(CaseRunner.Classify(new InvalidDataException(""), path).Outcome, Is.EqualTo(Outcomes.VagueMessage));
            Assert.That(CaseRunner.Classify(new ArgumentException("tensor 'x'"), path).Outcome, Is.EqualTo(Outcomes.Undocumented));
            Assert.That(CaseRunner.Classify(new IndexOutOfRangeException(), path).Outcome, Is.EqualTo(Outcomes.Undocumented));
            Assert.That(CaseRunner.Classify(new OutOfMemoryException(), path).Outcome, Is.EqualTo(Outcomes.Undocumented), "only InsufficientMemoryException is documented");
        });
    }

    [Test]
    public void A_case_is_rebuilt_byte_for_byte_from_its_seed_and_index_alone()
    {
        using var dir = new TempDir();
        var first = new CasePlan(CiSeed, MutationKinds.All, BaseModels.Names, dir.Path);
        var second = new CasePlan(CiSeed, MutationKinds.All, BaseModels.Names, dir.Path);
        var pairs = MutationKinds.All.Count * BaseModels.Names.Count;
        foreach (var index in Enumerable.Range(0, pairs).Reverse().Select(i => (long)i + 1000))
        {
            var (a, b) = (first.Build(index), second.Build(index));
            // SequenceEqual: NUnit's own collection comparison takes seconds over a megabyte.
            Assert.That(b.Bytes.AsSpan().SequenceEqual(a.Bytes), Is.True, $"case {index} ({a.Description})");
            Assert.That(b.Description, Is.EqualTo(a.Description));
        }
        Assert.That(first.Build(5).Bytes.AsSpan().SequenceEqual(first.Build(5 + pairs).Bytes), Is.False,
            "another index of the same kind and base is another mutation");
    }
}
