using System.Globalization;
using Spectre.Console;

namespace Mistral.Cli;

/// <summary>
/// Shows how far loading (reading, repacking, uploading the weights) has come, on stderr so stdout stays the
/// command's output: a Spectre.Console progress bar on an interactive terminal, plain "loading: N%" lines when
/// stderr is redirected (a log file or a pipe would otherwise fill with escape codes and redraws).
/// </summary>
internal static class LoadProgress
{
    /// <summary>Plain lines are written at most this often (in percent), plus 100%.</summary>
    private const int PlainStepPercent = 10;

    /// <summary>Runs <paramref name="load"/>, giving it the progress sink that shows where it is.</summary>
    public static T Run<T>(string what, Func<IProgress<double>, T> load)
    {
        if (Console.IsErrorRedirected) return load(new PlainLines(what));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(what), maxValue: 1.0);
                var result = load(new Synchronous(value => task.Value = value));
                task.Value = 1.0;
                return result;
            });
    }

    /// <summary>Reports on the loading thread itself: <see cref="Progress{T}"/> would post to the thread pool and arrive late or out of order.</summary>
    private sealed class Synchronous(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }

    private sealed class PlainLines(string what) : IProgress<double>
    {
        private int _shown = -1;

        public void Report(double value)
        {
            var percent = (int)Math.Floor(Math.Clamp(value, 0, 1) * 100);
            if (percent < 100 && _shown >= 0 && percent < _shown + PlainStepPercent) return;
            if (percent == _shown) return;
            _shown = percent;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {percent}%"));
        }
    }
}
