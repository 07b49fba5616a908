using System.Text;
using System.Text.Json;
using Mistral.Tests.Support;

namespace Mistral.Tests.Sampling;

/// <summary>
/// Generation under <see cref="ResponseFormat.JsonObject"/> on a random-weight model, whose unconstrained output is
/// letter soup: whatever it picks, a run that ends with EndOfSequence must be a JSON object System.Text.Json
/// parses, and a run cut short must say so (MaxTokens) and be a valid prefix.
/// </summary>
[TestFixture]
public class JsonGenerationTests
{
    private TempDir? _dir;
    private MistralModel? _model;

    private MistralModel Model => _model ?? throw new InvalidOperationException("The fixture is not set up.");

    [OneTimeSetUp]
    public void WriteAndLoad()
    {
        _dir = new TempDir();
        var path = _dir.File("json.gguf");
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

    private static GenerationOptions Json(float temperature, ulong seed, int maxTokens) =>
        new() { Temperature = temperature, Seed = seed, MaxTokens = maxTokens, ResponseFormat = ResponseFormat.JsonObject };

    [Test]
    public void Every_run_is_a_parsable_object_or_says_it_was_cut_short()
    {
        int complete = 0, cut = 0;
        foreach (var temperature in (float[])[0f, 0.7f, 1.5f])
        {
            for (ulong seed = 1; seed <= 6; seed++)
            {
                using var session = Model.CreateSession();
                var result = session.Complete("Answer in JSON:", Json(temperature, seed, maxTokens: 120));
                var utf8 = Encoding.UTF8.GetBytes(result.Text);
                var at = $"temperature {temperature}, seed {seed}: {result.FinishReason} after {result.Tokens.Count} tokens: {result.Text}";
                if (result.FinishReason == FinishReason.EndOfSequence)
                {
                    using var document = JsonDocument.Parse(utf8);
                    Assert.That(document.RootElement.ValueKind, Is.EqualTo(JsonValueKind.Object), at);
                    Assert.That(JsonCorpus.StjAccepts(utf8), Is.True, at); // every string in it reads back
                    complete++;
                }
                else
                {
                    Assert.That(result.FinishReason, Is.EqualTo(FinishReason.MaxTokens), at);
                    Assert.That(result.Tokens, Has.Count.EqualTo(120), at);
                    Assert.That(JsonCorpus.StjAccepts(utf8), Is.False, "a run that did not close its object is incomplete: " + at);
                    Assert.That(JsonCorpus.StjAcceptsPrefix(utf8), Is.True, "but what it has is a valid start: " + at);
                    cut++;
                }
            }
        }
        TestContext.Out.WriteLine($"{complete} complete, {cut} cut short");
        Assert.That(complete, Is.GreaterThanOrEqualTo(3), "enough runs closed their object to check the parse");
    }

    [Test]
    public void Too_few_tokens_end_with_MaxTokens_and_text_that_does_not_parse()
    {
        using var session = Model.CreateSession();
        var result = session.Complete("Answer in JSON:", Json(0.8f, 5, maxTokens: 2));
        Assert.That(result.FinishReason, Is.EqualTo(FinishReason.MaxTokens));
        var text = result.Text.TrimStart();
        Assert.That(text.Length == 0 || text.StartsWith('{'), Is.True, "the first non-blank character can only be a brace: " + result.Text);
        Assert.That(JsonCorpus.StjAccepts(Encoding.UTF8.GetBytes(result.Text)), Is.False);
        Assert.That(JsonCorpus.StjAcceptsPrefix(Encoding.UTF8.GetBytes(result.Text)), Is.True);
    }

    [Test]
    public async Task Streaming_and_token_ids_follow_the_same_constraint()
    {
        var options = Json(1.0f, 3, maxTokens: 120);
        GenerationResult whole;
        using (var session = Model.CreateSession()) whole = session.Complete("Answer in JSON:", options);

        var streamed = new StringBuilder();
        using (var session = Model.CreateSession())
        {
            await foreach (var piece in session.GenerateAsync("Answer in JSON:", options)) streamed.Append(piece);
        }
        using (var session = Model.CreateSession())
        {
            var ids = session.GenerateTokens(Model.Tokenizer.Encode("Answer in JSON:", addBos: true), options).ToList();
            Assert.That(ids, Is.EqualTo(whole.Tokens));
        }
        Assert.That(streamed.ToString(), Is.EqualTo(whole.Text));
        Assert.That(JsonCorpus.StjAcceptsPrefix(Encoding.UTF8.GetBytes(whole.Text)), Is.True, whole.Text);
        Assert.That(JsonCorpus.StjAccepts(Encoding.UTF8.GetBytes(whole.Text)), Is.EqualTo(whole.FinishReason == FinishReason.EndOfSequence), whole.Text);
    }

    [Test]
    public void Without_a_response_format_the_same_model_writes_no_JSON()
    {
        // The control for the tests above: the constraint, not the model, is what makes the output JSON.
        using var session = Model.CreateSession();
        var result = session.Complete("Answer in JSON:", new GenerationOptions { Temperature = 0.7f, Seed = 1, MaxTokens = 40 });
        Assert.That(result.Text.TrimStart(), Does.Not.StartWith("{"));
    }
}
