namespace Mistral.Tests.Support;

/// <summary>
/// A fixture that writes one small synthetic model and loads it once for all its tests, on the backend the
/// fixture was given (CPU by default; see <see cref="TestBackend"/> for CUDA); the file and the model are
/// released after the last test.
/// </summary>
public abstract class SmallModelFixture(MistralBackend backend = MistralBackend.Cpu)
{
    private SmallModel? _files;
    private MistralModel? _model;

    /// <summary>The backend this fixture's model runs on.</summary>
    private protected MistralBackend Backend => backend;

    private protected SmallModel Files => _files ?? throw new InvalidOperationException("The fixture is not set up.");

    private protected MistralModel Model => _model ?? throw new InvalidOperationException("The fixture is not set up.");

    /// <summary>The model file this fixture's tests run on.</summary>
    private protected virtual SmallModel CreateFiles() => new();

    [OneTimeSetUp]
    public void LoadSmallModel()
    {
        TestBackend.Require(backend);
        _files = CreateFiles();
        _model = _files.Load(backend: backend);
        Assert.That(_model.Backend, Is.EqualTo(backend), "the model runs on the backend the fixture asked for");
    }

    [OneTimeTearDown]
    public void UnloadSmallModel()
    {
        _model?.Dispose();
        _files?.Dispose();
    }
}
