using Mistral.Conformance.LlamaCpp;
using Mistral.Gguf;
using Mistral.Tests.Models;
using Mistral.Tests.Support;
using Mistral.Tests.Tokenization;

namespace Mistral.Conformance.Tokenization;

/// <summary>
/// A whole Nemo-style model file with a Tekken vocabulary, end to end in both engines: a chat-style text prompt
/// becomes the same ids, and the greedy continuation from those ids is the same.
/// </summary>
[TestFixture]
public sealed class TekkenModelConformanceTests
{
    [Test]
    public void Text_prompt_tokenizes_and_continues_like_llama_cpp()
    {
        var (tokens, types, merges) = ByteLevelBpeVocabularyBuilder.Build(TokenizerSamples.Texts, mergeCount: 400);
        // F32 so that "identical greedy tokens" is the rule without exceptions (see GreedyConformanceTests).
        var spec = ConformanceCases.Spec("Nemo-HeadDim", GgmlType.F32) with { VocabSize = tokens.Length };
        using var tiny = TinyModelFactory.Create(spec);
        var path = Path.ChangeExtension(tiny.Path, ".tekken.gguf");
        GgufRewrite.Copy(tiny.Path, path,
            metadata: (key, value) => key.StartsWith("tokenizer.", StringComparison.Ordinal) ? null : value,
            addMetadata: new Dictionary<string, GgufValue>
            {
                ["tokenizer.ggml.model"] = GgufValue.From("gpt2"),
                ["tokenizer.ggml.pre"] = GgufValue.From("tekken"),
                ["tokenizer.ggml.tokens"] = GgufValue.FromArray(tokens),
                ["tokenizer.ggml.token_type"] = GgufValue.FromArray(types),
                ["tokenizer.ggml.merges"] = GgufValue.FromArray(merges),
                ["tokenizer.ggml.bos_token_id"] = GgufValue.From(1u),
                ["tokenizer.ggml.eos_token_id"] = GgufValue.From(2u),
            });
        const string prompt = "[INST] Bonjour, je m'appelle Jean-François. ¿Dónde está el niño? 🦀 [/INST]";

        int[] expectedIds;
        int[] expectedContinuation;
        using (var llama = LlamaCppModel.Load(path, ConformanceCases.ContextLength, ConformanceCases.Threads))
        {
            expectedIds = llama.Tokenize(prompt, addSpecial: true, parseSpecial: true);
            expectedContinuation = llama.Greedy(expectedIds, 16).Tokens;
        }

        using var model = MistralModel.Load(path, new ModelOptions { Threads = ConformanceCases.Threads, ContextLength = ConformanceCases.ContextLength });
        var ids = model.Tokenizer.Encode(prompt, model.Tokenizer.AddBos, parseSpecial: true);
        using var session = model.CreateSession();
        var continuation = session.GenerateTokens(ids, GenerationOptions.Greedy(16)).ToArray();

        var eos = Array.IndexOf(expectedContinuation, 2);
        TestContext.Out.WriteLine($"prompt: {ids.Length} ids; llama.cpp continuation [{string.Join(",", expectedContinuation)}]");
        Assert.Multiple(() =>
        {
            Assert.That(continuation, Has.Length.GreaterThanOrEqualTo(8), "too short a continuation to compare meaningfully");
            Assert.That(ids, Is.EqualTo(expectedIds), "prompt ids");
            Assert.That(ids[0], Is.EqualTo(1), "tekken adds BOS");
            Assert.That(continuation, Is.EqualTo(eos >= 0 ? expectedContinuation[..eos] : expectedContinuation), "greedy continuation");
            Assert.That(model.Tokenizer.Decode(ids, renderSpecial: true), Is.EqualTo(prompt.Replace("[INST]", "<s>[INST]", StringComparison.Ordinal)),
                "decoding the prompt ids gives the prompt back (BOS rendered as <s>)");
        });
    }
}
