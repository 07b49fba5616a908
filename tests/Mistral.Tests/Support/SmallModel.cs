using Mistral.Gguf;

namespace Mistral.Tests.Support;

/// <summary>A small synthetic model written once per fixture: fast enough for API tests, real enough to generate.</summary>
internal sealed class SmallModel : IDisposable
{
    private readonly TempDir _dir = new();

    public SmallModel(GgmlType type = GgmlType.Q8_0, int contextLength = 256, int slidingWindow = 0)
    {
        Spec = new SyntheticModelSpec
        {
            VocabSize = 400,
            EmbeddingLength = 64,
            LayerCount = 2,
            HeadCount = 4,
            KvHeadCount = 2,
            FeedForwardLength = 96,
            ContextLength = contextLength,
            WeightType = type,
            SlidingWindow = slidingWindow,
        };
        Path = _dir.File("small.gguf");
        SyntheticModel.Write(Path, Spec);
    }

    public SyntheticModelSpec Spec { get; }

    public string Path { get; }

    public MistralModel Load(int threads = 2, MistralBackend backend = MistralBackend.Cpu) =>
        MistralModel.Load(Path, TestBackend.Options(backend, threads));

    public void Dispose() => _dir.Dispose();
}
