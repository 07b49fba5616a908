using System.Text;
using System.Text.Json;
using Mistral.Constraints;
using Mistral.Tests.Support;

namespace Mistral.Tests.Sampling;

/// <summary>
/// Generation under <see cref="ResponseFormat.ForJsonSchema"/> on a random-weight model, whose free output is letter
/// soup: whatever it picks, a run that ends with EndOfSequence must validate against the schema, and a run cut short
/// must say so (MaxTokens) and be a prefix the recognizer accepts (which, its own tests show, always completes).
/// </summary>
[TestFixture]
public class SchemaGenerationTests
{
    // Enums, a boolean, a nullable integer, an array and one free string. A random model fills every gap between
    // tokens with the most whitespace the recognizer allows (24 bytes), so runs need room: about 400 tokens.
    private const string Schema = """
        {"type":"object","properties":{
          "kind":{"enum":["river","lake","sea"]},
          "navigable":{"type":"boolean"},
          "length":{"type":["integer","null"]},
          "countries":{"type":"array","items":{"enum":["FR","DE","CH"]}},
          "name":{"type":"string"}},
         "required":["kind","navigable"],"additionalProperties":false}
        """;

    private const int MaxTokens = 400;

    private TempDir? _dir;
    private MistralModel? _model;
    private JsonElement _schema;

    private MistralModel Model => _model ?? throw new InvalidOperationException("The fixture is not set up.");

    [OneTimeSetUp]
    public void WriteAndLoad()
    {
        _schema = JsonDocument.Parse(Schema).RootElement.Clone();
        _dir = new TempDir();
        var path = _dir.File("schema.gguf");
        SyntheticModel.Write(path, new SyntheticModelSpec
        {
            VocabSize = 512, EmbeddingLength = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, FeedForwardLength = 96,
            ContextLength = 1024, WeightType = Mistral.Gguf.GgmlType.Q8_0,
        });
        _model = MistralModel.Load(path, TestBackend.Options(MistralBackend.Cpu) with { ContextLength = 1024 });
    }

    [OneTimeTearDown]
    public void Unload()
    {
        _model?.Dispose();
        _dir?.Dispose();
    }

    [Test]
    public void Every_run_validates_against_the_schema_or_says_it_was_cut_short()
    {
        var format = ResponseFormat.ForJsonSchema(_schema, "river");
        var grammar = JsonSchemaCompiler.Compile(_schema);
        int complete = 0, cut = 0;
        foreach (var (temperature, seeds) in ((float, ulong)[])[(0f, 1), (0.8f, 4), (1.5f, 4)])
        {
            for (ulong seed = 1; seed <= seeds; seed++)
            {
                using var session = Model.CreateSession();
                var options = new GenerationOptions { Temperature = temperature, Seed = seed, MaxTokens = MaxTokens, ResponseFormat = format };
                var result = session.Complete("Describe a river in JSON:", options);
                var utf8 = Encoding.UTF8.GetBytes(result.Text);
                var at = $"temperature {temperature}, seed {seed}: {result.FinishReason} after {result.Tokens.Count} tokens: {result.Text}";
                if (result.FinishReason == FinishReason.EndOfSequence)
                {
                    Assert.That(SchemaCorpus.Valid(_schema, utf8), Is.True, at);
                    complete++;
                }
                else
                {
                    Assert.That(result.FinishReason, Is.EqualTo(FinishReason.MaxTokens), at);
                    Assert.That(SchemaCorpus.Valid(_schema, utf8), Is.False, "a run cut short is not a whole document: " + at);
                    var state = SchemaRecognizer.Start(grammar);
                    Assert.That(utf8.All(state.Push), Is.True, "but it is an accepted prefix: " + at);
                    Assert.That(JsonCorpus.StjAcceptsPrefix(utf8), Is.True, at);
                    cut++;
                }
            }
        }
        TestContext.Out.WriteLine($"{complete} complete, {cut} cut short");
        Assert.That(complete, Is.GreaterThanOrEqualTo(3), "enough runs closed their document to check validation");
    }

    [Test]
    public void Too_few_tokens_end_with_MaxTokens_and_an_accepted_prefix()
    {
        using var session = Model.CreateSession();
        var options = new GenerationOptions { Temperature = 0.8f, Seed = 2, MaxTokens = 30, ResponseFormat = ResponseFormat.ForJsonSchema(_schema) };
        var result = session.Complete("Describe a river in JSON:", options);
        var utf8 = Encoding.UTF8.GetBytes(result.Text);
        Assert.That(result.FinishReason, Is.EqualTo(FinishReason.MaxTokens), result.Text);
        Assert.That(SchemaCorpus.Valid(_schema, utf8), Is.False, result.Text);
        var state = SchemaRecognizer.Start(JsonSchemaCompiler.Compile(_schema));
        Assert.That(utf8.All(state.Push), Is.True, result.Text);
    }

    [Test]
    public async Task Streaming_gives_the_same_text_as_a_whole_run()
    {
        var options = new GenerationOptions { Temperature = 1.0f, Seed = 9, MaxTokens = MaxTokens, ResponseFormat = ResponseFormat.ForJsonSchema(_schema) };
        GenerationResult whole;
        using (var session = Model.CreateSession()) whole = session.Complete("Describe a river in JSON:", options);
        var streamed = new StringBuilder();
        using (var session = Model.CreateSession())
        {
            await foreach (var piece in session.GenerateAsync("Describe a river in JSON:", options)) streamed.Append(piece);
        }
        Assert.That(streamed.ToString(), Is.EqualTo(whole.Text));
    }
}
