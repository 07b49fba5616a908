using Microsoft.Extensions.Logging;
using Mistral.Interop;
using Mistral.Tests.Support;

namespace Mistral.Tests.Chat;

/// <summary>Backend choice, logging and progress while a model loads.</summary>
[TestFixture]
public class ModelLoadHooksTests
{
    private SmallModel _files = null!;

    [OneTimeSetUp]
    public void Write() => _files = new SmallModel();

    [OneTimeTearDown]
    public void Delete() => _files.Dispose();

    [Test]
    public void Progress_runs_from_0_to_1_without_going_back()
    {
        var reports = new List<double>();
        using (MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Progress = new SyncProgress(reports.Add) })) { }
        Assert.That(reports[0], Is.EqualTo(0));
        Assert.That(reports[^1], Is.EqualTo(1));
        Assert.That(reports, Is.Ordered);
        Assert.That(reports.Count, Is.GreaterThan(2));
    }

    [Test]
    public void The_load_is_logged_with_the_backend_and_chat_template()
    {
        var logger = new ListLogger();
        using var model = MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Logger = logger, Backend = MistralBackend.Cpu });
        Assert.That(logger.Lines, Has.Some.Contains("backend Cpu").And.Contains("chat template V1"));
        Assert.That(model.Backend, Is.EqualTo(MistralBackend.Cpu));
        Assert.That(model.NativeLibraryPath, Does.EndWith("libmistral.so").Or.EndWith(" (system search path)"));
    }

    [Test]
    public void Auto_runs_on_the_cpu_where_no_cuda_build_is_installed()
    {
        using var model = MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Auto });
        Assert.That(model.Backend, Is.EqualTo(MistralBackend.Cpu));
    }

    [Test]
    public void Asking_for_cuda_without_its_package_explains_what_was_looked_for_and_what_to_install()
    {
        // This machine has no CUDA build: only the failure path of the CUDA backend can be tested here.
        var ex = Assert.Throws<MistralNativeLibraryException>(
            () => MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Cuda }));
        // Either this process already runs the CPU library (said so), or it has not loaded one yet (the full explanation).
        Assert.That(ex!.Message, Does.Contain("CUDA").Or.Contain("Cuda"));
        var explanation = NativeLibraryLoader.ExplainCudaUnavailable();
        Assume.That(explanation, Is.Not.Null, "a CUDA build and device are present");
        Assert.That(explanation, Does.Contain("cuda12/libmistral_cuda.so"));
        Assert.That(explanation, Does.Contain("Mistral.Native.Runtime.Cuda.linux-x64"));
        Assert.That(explanation, Does.Contain("libcuda.so.1"));
    }

    [Test]
    public void An_undefined_backend_is_refused_before_anything_loads()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MistralModel.Load(_files.Path, new ModelOptions { Backend = (MistralBackend)42 }));
    }

    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines) Lines.Add(formatter(state, exception));
        }
    }
}
