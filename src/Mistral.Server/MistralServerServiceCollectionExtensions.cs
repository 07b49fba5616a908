using Microsoft.Extensions.DependencyInjection.Extensions;
using Mistral;
using Mistral.Server;
using Mistral.Server.Api;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Mistral chat-completions server's services; <c>MapMistralApi</c> then maps its endpoints.</summary>
public static class MistralServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers a server that loads <see cref="MistralServerOptions.ModelPath"/> when the endpoints are mapped and
    /// releases it with the container.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="options">What to serve and the limits; <see cref="MistralServerOptions.Host"/> and <see cref="MistralServerOptions.Port"/>
    /// are the app's to choose here (Kestrel's own configuration).</param>
    /// <returns>The same collection.</returns>
    public static IServiceCollection AddMistralServer(this IServiceCollection services, MistralServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return AddCore(services, _ => ServedModel.Load(options));
    }

    /// <summary>Registers a server over a model the application already loaded (and keeps owning).</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="model">The model to serve; it must outlive the application's container.</param>
    /// <param name="options">Limits and defaults; <see cref="MistralServerOptions.ModelPath"/> and <see cref="MistralServerOptions.Model"/> are not used.</param>
    /// <returns>The same collection.</returns>
    public static IServiceCollection AddMistralServer(this IServiceCollection services, MistralModel model, MistralServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(model);
        options ??= new MistralServerOptions();
        options.Validate();
        return AddCore(services, _ => new ServedModel(model, ownsModel: false, options));
    }

    private static IServiceCollection AddCore(IServiceCollection services, Func<IServiceProvider, ServedModel> create)
    {
        services.TryAddSingleton(create);
        services.TryAddSingleton<ChatCompletionsEndpoint>();
        return services;
    }
}
