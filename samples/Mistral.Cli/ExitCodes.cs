namespace Mistral.Cli;

/// <summary>
/// What the process exit status means, so scripts can tell "you called it wrong" from "it failed while running".
/// </summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>A failure while running: a bad model file, a missing GPU, too little memory. The message says what and where.</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong: unknown option, bad value, missing option. Nothing was run.</summary>
    public const int Usage = 2;

    /// <summary>Interrupted (Ctrl-C): 128 + SIGINT, as shells report it.</summary>
    public const int Cancelled = 130;
}
