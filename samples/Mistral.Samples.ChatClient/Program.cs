// Microsoft.Extensions.AI: the model behind IChatClient, the interface Semantic Kernel and other
// libraries take. Usage: dotnet run --project samples/Mistral.Samples.ChatClient -- [model.gguf]
using Microsoft.Extensions.AI;
using Mistral;
using Mistral.Samples;

using IChatClient client = MistralChatClient.Load(SampleModel.PathFrom(args));

List<ChatMessage> history = [new(ChatRole.System, "You are a concise assistant."), new(ChatRole.User, "What is a mistral?")];
var options = new ChatOptions { Temperature = 0.7f, TopP = 0.9f, MaxOutputTokens = 48, Seed = 42 };

var response = await client.GetResponseAsync(history, options);
Console.WriteLine(response.Text);
Console.WriteLine($"[{response.FinishReason}; {response.Usage?.InputTokenCount} prompt + {response.Usage?.OutputTokenCount} answer tokens]");
history.AddMessages(response);

history.Add(new(ChatRole.User, "Say it again, streaming."));
await foreach (var update in client.GetStreamingResponseAsync(history, options))
    Console.Write(update.Text);
Console.WriteLine();
