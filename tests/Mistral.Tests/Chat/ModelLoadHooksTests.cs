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

    [TestCase(MistralBackend.Cpu)]
    [TestCase(MistralBackend.Cuda)]
    public void Progress_runs_from_0_to_1_without_going_back_through_the_native_callback(MistralBackend backend)
    {
        TestBackend.Require(backend);
        var reports = new List<double>();
        using (var model = MistralModel.Load(_files.Path, TestBackend.Options(backend, threads: 1) with { Progress = new SyncProgress(reports.Add) }))
        {
            Assert.That(model.Backend, Is.EqualTo(backend));
        }
        Assert.That(reports[0], Is.EqualTo(0));
        Assert.That(reports[^1], Is.EqualTo(1));
        Assert.That(reports, Is.Ordered);
        // The native core reports 1 once at the end of mst_model_create_with, which the library maps to 0.95 of the
        // whole load: seeing it proves the unmanaged callback reached the IProgress (on this thread, in order).
        Assert.That(reports, Does.Contain(0.95));
        TestContext.Out.WriteLine($"{backend}: {string.Join(", ", reports.Select(r => r.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
    }

    [Test]
    public void An_exception_thrown_by_the_progress_callback_comes_out_of_load()
    {
        var error = new InvalidOperationException("the listener failed");
        // Throws only for what the native callback forwards (values past the managed 0.1 stage).
        var progress = new SyncProgress(value => { if (value > 0.1 && value < 1) throw error; });
        var thrown = Assert.Throws<InvalidOperationException>(
            () => MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Cpu, Progress = progress }));
        Assert.That(thrown, Is.SameAs(error), "the listener's own exception, rethrown after the native call returned");
        // The library stays usable: the next load on this thread works.
        using var model = MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Cpu });
        Assert.That(model.Generate("ok", GenerationOptions.Greedy(2)), Is.Not.Null);
    }

    [Test]
    public void The_load_is_logged_with_the_backend_and_chat_template()
    {
        var logger = new ListLogger();
        using var model = MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Logger = logger, Backend = MistralBackend.Cpu });
        Assert.That(logger.Lines, Has.Some.Contains("Backend: CPU (requested)"));
        Assert.That(logger.Lines, Has.Some.Contains("backend Cpu").And.Contains("chat template V1"));
        Assert.That(model.Backend, Is.EqualTo(MistralBackend.Cpu));
        Assert.That(model.BackendInfo.Backend, Is.EqualTo(MistralBackend.Cpu));
        Assert.That(model.BackendInfo.IsAvailable, Is.True);
        Assert.That(model.BackendInfo.DeviceName, Is.Not.Empty, "the CPU's model name");
        Assert.That(model.BackendInfo.ToString(), Does.StartWith("CPU: " + model.BackendInfo.DeviceName));
        Assert.That(model.NativeLibraryPath, Does.EndWith("libmistral.so").Or.EndWith(" (system search path)"));
    }

    [Test]
    public void Auto_takes_cuda_where_it_can_run_else_the_cpu_and_logs_why()
    {
        // What the native core says about CUDA without the emulator (Auto never asks for it).
        var cuda = BackendSelection.Query(MistralBackend.Cuda, flags: 0, device: 0);
        var logger = new ListLogger();
        using var model = MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Auto, Logger = logger });
        if (cuda.IsAvailable && !cuda.IsEmulated)
        {
            Assert.That(model.Backend, Is.EqualTo(MistralBackend.Cuda));
            Assert.That(logger.Lines, Has.Some.StartsWith("Backend: CUDA on "));
            return;
        }
        Assert.That(model.Backend, Is.EqualTo(MistralBackend.Cpu));
        var expected = cuda.IsAvailable ? "only the SIMT emulator is available" : cuda.UnavailableReason!;
        Assert.That(logger.Lines, Has.Some.StartsWith("Backend: CPU, because " + expected));
        TestContext.Out.WriteLine(logger.Lines.First(l => l.StartsWith("Backend:", StringComparison.Ordinal)));
    }

    [Test]
    public void Auto_never_chooses_the_emulator()
    {
        var saved = Environment.GetEnvironmentVariable(BackendSelection.EmulateVariable);
        Environment.SetEnvironmentVariable(BackendSelection.EmulateVariable, "1");
        try
        {
            using var model = MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Auto });
            Assert.That(model.BackendInfo.IsEmulated, Is.False);
        }
        finally
        {
            Environment.SetEnvironmentVariable(BackendSelection.EmulateVariable, saved);
        }
    }

    [Test]
    public void Asking_for_cuda_where_it_cannot_run_is_a_device_exception_with_the_native_reason()
    {
        var saved = Environment.GetEnvironmentVariable(BackendSelection.EmulateVariable);
        Environment.SetEnvironmentVariable(BackendSelection.EmulateVariable, null); // no emulator: the real answer
        try
        {
            var cuda = BackendSelection.Query(MistralBackend.Cuda, flags: 0, device: 0);
            Assume.That(cuda.IsAvailable, Is.False, "a CUDA device is present, so there is no failure to test");
            Assert.That(cuda.UnavailableReason, Is.Not.Empty);
            var ex = Assert.Throws<MistralDeviceException>(
                () => MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Cuda }));
            Assert.That(ex!.Message, Does.StartWith("The CUDA backend was requested but cannot run: "));
            Assert.That(ex.Message, Does.Contain(cuda.UnavailableReason!));
            Assert.That(BackendInfo.Query(MistralBackend.Cuda).ToString(), Does.StartWith("CUDA: unavailable ("));
        }
        finally
        {
            Environment.SetEnvironmentVariable(BackendSelection.EmulateVariable, saved);
        }
    }

    [Test]
    public void A_cuda_device_ordinal_the_driver_does_not_list_is_refused_with_the_count()
    {
        TestBackend.Require(MistralBackend.Cuda);
        var count = BackendInfo.Query(MistralBackend.Cuda).DeviceCount;
        var ex = Assert.Throws<MistralDeviceException>(
            () => MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Cuda, Device = count }));
        Assert.That(ex!.Message, Does.Contain($"CUDA device {count} does not exist"));
    }

    [Test]
    public void The_emulated_cuda_model_describes_its_device()
    {
        TestBackend.Require(MistralBackend.Cuda);
        using var model = MistralModel.Load(_files.Path, new ModelOptions { Threads = 1, Backend = MistralBackend.Cuda });
        var info = model.BackendInfo;
        Assert.That(model.Backend, Is.EqualTo(MistralBackend.Cuda));
        Assert.That(info.Backend, Is.EqualTo(MistralBackend.Cuda));
        Assert.That(info.IsAvailable, Is.True);
        Assert.That(info.DeviceCount, Is.GreaterThanOrEqualTo(1));
        Assert.That(info.DeviceName, Is.Not.Empty);
        Assert.That(info.TotalMemoryBytes, Is.GreaterThan(0UL));
        Assert.That(info.FreeMemoryBytes, Is.LessThanOrEqualTo(info.TotalMemoryBytes));
        if (info.IsEmulated) Assert.That(info.DeviceName, Is.EqualTo("SIMT emulator (CPU)"));
        else Assert.That(info.ComputeCapability, Is.Not.Null);
        TestContext.Out.WriteLine(info);
    }

    [Test]
    public void Undefined_backends_and_negative_devices_are_refused_before_anything_loads()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MistralModel.Load(_files.Path, new ModelOptions { Backend = (MistralBackend)42 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => MistralModel.Load(_files.Path, new ModelOptions { Device = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => BackendInfo.Query((MistralBackend)42));
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
