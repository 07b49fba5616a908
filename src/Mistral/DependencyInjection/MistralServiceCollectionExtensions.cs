using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Mistral;

// The namespace of IServiceCollection itself, as Microsoft's own Add* extensions do, so that the method is found
// without a using directive for this library.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a local Mistral model as the application's <see cref="IChatClient"/>.</summary>
public static class MistralServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="MistralChatClient"/> (also resolvable as <see cref="IChatClient"/>) that loads
    /// <paramref name="modelPath"/> on first use and is disposed with the container. When
    /// <see cref="ModelOptions.Logger"/> is not set, the container's <see cref="ILoggerFactory"/> (if any) provides one
    /// under the category "Mistral".
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="modelPath">The GGUF file.</param>
    /// <param name="options">How to load and generate; null for the defaults.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddMistralChatClient(this IServiceCollection services, string modelPath,
        MistralChatClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var configured = options ?? new MistralChatClientOptions();
        services.AddSingleton(provider =>
        {
            var resolved = configured;
            if (resolved.Model is { Logger: null } model && provider.GetService(typeof(ILoggerFactory)) is ILoggerFactory loggers)
                resolved = resolved with { Model = model with { Logger = loggers.CreateLogger("Mistral") } };
            return MistralChatClient.Load(modelPath, resolved);
        });
        services.AddSingleton<IChatClient>(provider => provider.GetRequiredService<MistralChatClient>());
        return services;
    }
}
