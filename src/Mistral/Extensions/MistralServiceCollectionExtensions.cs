using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Mistral;
using Mistral.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a local Mistral model as the application's <see cref="IChatClient"/>.</summary>
public static class MistralServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="MistralChatClient"/> (also resolvable as <see cref="IChatClient"/>) that loads
    /// <paramref name="modelPath"/> on first use and is disposed with the container. When no logger is configured,
    /// the container's <see cref="ILoggerFactory"/> (if any) provides one under the category "Mistral".
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="modelPath">The GGUF file.</param>
    /// <param name="configure">Adjusts load and generation options.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddMistralChatClient(this IServiceCollection services, string modelPath,
        Action<MistralChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        services.AddSingleton(provider =>
        {
            var options = new MistralChatClientOptions();
            configure?.Invoke(options);
            if (options.Model.Logger is null && provider.GetService(typeof(ILoggerFactory)) is ILoggerFactory loggers)
                options.Model = options.Model with { Logger = loggers.CreateLogger("Mistral") };
            return MistralChatClient.Load(modelPath, options);
        });
        services.AddSingleton<IChatClient>(provider => provider.GetRequiredService<MistralChatClient>());
        return services;
    }
}
