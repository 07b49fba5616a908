using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Mistral.Server;
using Mistral.Server.Api;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Mistral API endpoints registered by <c>AddMistralServer</c>.</summary>
public static class MistralEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST /v1/chat/completions</c>, <c>GET /v1/models</c> (behind the API key when one is set) and
    /// <c>GET /health</c>. The model is loaded here, so a bad file fails the app's start, not its first request.
    /// </summary>
    /// <param name="endpoints">The app's routes.</param>
    /// <returns>The <c>/v1</c> group, for the app's own conventions (authorization policies, rate limiting, CORS).</returns>
    public static RouteGroupBuilder MapMistralApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var served = endpoints.ServiceProvider.GetService<ServedModel>()
            ?? throw new InvalidOperationException("Call services.AddMistralServer(...) before MapMistralApi().");
        var chat = endpoints.ServiceProvider.GetRequiredService<ChatCompletionsEndpoint>();

        endpoints.MapGet("/health", (HttpContext context) => InfoEndpoints.HealthAsync(context, served));
        var v1 = endpoints.MapGroup("/v1");
        if (served.Options.ApiKey is { } key) v1.AddEndpointFilter(new ApiKeyFilter(key));
        v1.MapGet("/models", (HttpContext context) => InfoEndpoints.ModelsAsync(context, served));
        v1.MapPost("/chat/completions", (HttpContext context) => chat.HandleAsync(context));
        return v1;
    }
}
