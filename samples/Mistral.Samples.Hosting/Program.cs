// Dependency injection in a generic host: AddMistralChatClient registers IChatClient (logging through the
// host's ILoggerFactory), and a hosted service uses it. Usage: dotnet run --project samples/Mistral.Samples.Hosting -- [model.gguf]
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Mistral;
using Mistral.Samples;

var builder = Host.CreateApplicationBuilder();
builder.Services.AddMistralChatClient(SampleModel.PathFrom(args), new MistralChatClientOptions
{
    Generation = new GenerationOptions { Temperature = 0.7f, MaxTokens = 48 },
});
builder.Services.AddHostedService<Answerer>();
await builder.Build().RunAsync();

/// <summary>Asks one question through the injected IChatClient, prints the answer, and stops the host.</summary>
internal sealed class Answerer(IChatClient chat, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var response = await chat.GetResponseAsync("Name three rivers in France.", cancellationToken: stoppingToken);
        Console.WriteLine(response.Text);
        lifetime.StopApplication();
    }
}
