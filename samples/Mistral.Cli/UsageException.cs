namespace Mistral.Cli;

/// <summary>The command line is wrong in a way only known after parsing (e.g. a prompt longer than --ctx); the message says how, in the CLI's words.</summary>
internal sealed class UsageException(string message) : Exception(message);
