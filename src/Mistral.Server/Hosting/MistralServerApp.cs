using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mistral.Server;

/// <summary>The standalone server: Kestrel on <see cref="MistralServerOptions.Host"/>:<see cref="MistralServerOptions.Port"/> with only the Mistral API mapped.</summary>
public static class MistralServerApp
{
    /// <summary>Builds the app (loading the model); start it with <c>RunAsync</c> or <c>StartAsync</c>.</summary>
    /// <param name="options">What to serve, where, and the limits.</param>
    /// <param name="args">Command-line arguments for the host's own settings (logging levels); may be empty.</param>
    /// <returns>The app, not yet started.</returns>
    public static WebApplication Create(MistralServerOptions options, string[]? args = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var address = ParseHost(options.Host);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [] });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.Listen(address, options.Port);
        });
        builder.Services.AddMistralServer(options);
        var app = builder.Build();
        app.MapMistralApi();
        if (!IPAddress.IsLoopback(address) && options.ApiKey is null)
        {
            app.Logger.LogWarning("Listening on {Address}, reachable from other machines, with no API key: anyone who can reach it can use the model.", address);
        }
        return app;
    }

    /// <summary>Where a started app listens, as a base URL (<c>http://127.0.0.1:PORT</c>): the port is known only after start when it was 0.</summary>
    /// <param name="app">A started app.</param>
    /// <returns>The first address Kestrel bound.</returns>
    public static Uri BaseAddress(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("The app is not listening yet: start it first.");
        return new Uri(first);
    }

    private static IPAddress ParseHost(string host)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        return IPAddress.TryParse(host, out var address)
            ? address
            : throw new ArgumentException($"Host '{host}' is not an IP address (use 127.0.0.1 for loopback only, 0.0.0.0 for every interface).", nameof(host));
    }
}
