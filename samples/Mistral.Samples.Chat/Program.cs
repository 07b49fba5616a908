// Console chat: each turn streams the answer; the session keeps the conversation in its KV cache, so
// only the new turn is evaluated. Usage: dotnet run --project samples/Mistral.Samples.Chat -- [model.gguf]
// With no input (CI, pipes), it asks two fixed questions.
using Microsoft.Extensions.AI;
using Mistral;
using Mistral.Samples;

using var model = MistralModel.Load(SampleModel.PathFrom(args));
using var session = model.CreateSession();
Console.WriteLine($"{Path.GetFileName(model.Path)}: {model.BackendInfo}, {model.ChatTemplate.Kind} chat template. Empty line to quit.");

var history = new List<ChatMessage> { new ChatMessage(ChatRole.System, "You are a concise assistant.") };
var scripted = Console.IsInputRedirected ? new Queue<string>(["Name three rivers in France.", "And in Germany?"]) : null;
var options = new GenerationOptions { Temperature = 0.7f, TopP = 0.9f, MaxTokens = 64 };
while (true)
{
    Console.Write("> ");
    var question = scripted is null ? Console.ReadLine() : scripted.TryDequeue(out var next) ? next : null;
    if (string.IsNullOrWhiteSpace(question)) break;
    if (scripted is not null) Console.WriteLine(question);
    history.Add(new ChatMessage(ChatRole.User, question));
    var answer = new System.Text.StringBuilder();
    await foreach (var piece in session.ChatAsync(history, options))
    {
        Console.Write(piece);
        answer.Append(piece);
    }
    Console.WriteLine();
    history.Add(new ChatMessage(ChatRole.Assistant, answer.ToString()));
}
