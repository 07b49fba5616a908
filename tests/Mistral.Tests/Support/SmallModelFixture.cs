namespace Mistral.Tests.Support;

/// <summary>
/// A fixture that writes one small synthetic model and loads it once for all its tests; the file and the
/// model are released after the last test.
/// </summary>
public abstract class SmallModelFixture
{
    private SmallModel? _files;
    private MistralModel? _model;

    private protected SmallModel Files => _files ?? throw new InvalidOperationException("The fixture is not set up.");

    private protected MistralModel Model => _model ?? throw new InvalidOperationException("The fixture is not set up.");

    /// <summary>The model file this fixture's tests run on.</summary>
    private protected virtual SmallModel CreateFiles() => new();

    [OneTimeSetUp]
    public void LoadSmallModel()
    {
        _files = CreateFiles();
        _model = _files.Load();
    }

    [OneTimeTearDown]
    public void UnloadSmallModel()
    {
        _model?.Dispose();
        _files?.Dispose();
    }
}
