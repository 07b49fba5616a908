using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Mistral.Server.Api;

/// <summary>Refuses a request whose <c>Authorization: Bearer</c> key is not the server's, with 401 and a JSON error.</summary>
internal sealed class ApiKeyFilter(string apiKey) : IEndpointFilter
{
    // Hashed once: comparing fixed-length digests in constant time leaks neither the key's bytes nor its length.
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            await ApiErrors.WriteAsync(http, ApiError.Unauthorized("No API key: send the header 'Authorization: Bearer <key>'.")).ConfigureAwait(false);
            return Results.Empty;
        }
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header.AsSpan(scheme.Length).Trim().ToString()));
        if (!CryptographicOperations.FixedTimeEquals(given, _expected))
        {
            await ApiErrors.WriteAsync(http, ApiError.Unauthorized("The API key is not valid.")).ConfigureAwait(false);
            return Results.Empty;
        }
        return await next(context).ConfigureAwait(false);
    }
}
