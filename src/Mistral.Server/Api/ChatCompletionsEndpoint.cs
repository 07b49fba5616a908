using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Mistral.Server.Sessions;

namespace Mistral.Server.Api;

/// <summary>
/// <c>POST /v1/chat/completions</c>: checks the request, waits its turn for a session, generates with the library's
/// chat client on that session, and answers whole or as server-sent events. The request's abort token is the
/// generation's cancellation token, so a client that goes away stops its generation and frees the session.
/// </summary>
internal sealed class ChatCompletionsEndpoint(ServedModel served, ILogger<ChatCompletionsEndpoint> logger)
{
    public async Task HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        ChatCompletionRequest request;
        int[] prompt;
        try
        {
            var body = await RequestBody.ReadAsync(context, served.Options.MaxRequestBodyBytes).ConfigureAwait(false);
            request = ChatCompletionRequestParser.Parse(body, served.Options.MaxTokensLimit);
            prompt = Render(request);
        }
        catch (ApiException ex)
        {
            await ApiErrors.WriteAsync(context, ex.Error).ConfigureAwait(false);
            return;
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
            return; // the client left while sending its body
        }

        SessionLease lease;
        try
        {
            lease = await served.Pool.AcquireAsync(prompt, aborted).ConfigureAwait(false);
        }
        catch (QueueFullException ex)
        {
            await ApiErrors.WriteAsync(context, ApiError.Busy(ex.Message, (int)ex.RetryAfter.TotalSeconds)).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return; // gave up while waiting in line
        }

        using (lease)
        {
            var header = CompletionHeader.New(served.Id);
            var options = request.ToChatOptions(served.Options.MaxTokensLimit);
            var answer = request.Stream
                ? await StreamAsync(context, lease.Slot.Client, request, options, header).ConfigureAwait(false)
                : await CompleteAsync(context, lease.Slot.Client, request, options, header).ConfigureAwait(false);
            if (answer is not null && RenderFollowUp(request, answer) is { } cached) lease.Slot.CachedPrompt = cached;
        }
    }

    /// <summary>The conversation as the model will see it: checks the roles and gives the ids the session router compares.</summary>
    private int[] Render(ChatCompletionRequest request)
    {
        try
        {
            return served.Model.ChatTemplate.Tokenize(request.Messages, served.Model.Tokenizer, request.Tools);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            // A model whose format or vocabulary has no tool calling refuses the tools, not the conversation.
            var field = request.Tools is not null && (ex is NotSupportedException || ex.Message.Contains("control token", StringComparison.Ordinal)) ? "tools" : "messages";
            throw new ApiException(ApiError.InvalidField(field, ex.Message));
        }
    }

    /// <summary>
    /// The conversation with this answer appended, rendered as the next turn's prompt will start: what the session's
    /// cache now holds, so the follow-up is routed to this session rather than to one that only saw the same question.
    /// </summary>
    private int[]? RenderFollowUp(ChatCompletionRequest request, ChatMessage answer)
    {
        try
        {
            // After tool calls the next turn starts with their results, not a user message.
            ChatMessage next = answer.Contents.OfType<FunctionCallContent>().FirstOrDefault() is { } call
                ? new(ChatRole.Tool, [new FunctionResultContent(call.CallId, "")])
                : new(ChatRole.User, "");
            return served.Model.ChatTemplate.Tokenize([.. request.Messages, answer, next], served.Model.Tokenizer, request.Tools);
        }
        catch (ArgumentException)
        {
            return null; // the routing keeps the prompt alone
        }
    }

    /// <summary>Answers whole; returns the answer, or null when there was none.</summary>
    private async Task<ChatMessage?> CompleteAsync(HttpContext context, MistralChatClient client, ChatCompletionRequest request, ChatOptions options, CompletionHeader header)
    {
        ChatResponse response;
        try
        {
            response = await client.GetResponseAsync(request.Messages, options, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            await ApiErrors.WriteAsync(context, ToApiError(ex)).ConfigureAwait(false);
            return null;
        }
        catch (Exception)
        {
            return null; // the client left: nobody to answer
        }

        context.Response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(context.Response.BodyWriter, JsonOutput.Options))
            CompletionJson.WriteCompletion(json, header, response.Text, FinishReason(response.FinishReason), Usage(response.Usage), ToolCalls(response.Messages.SelectMany(m => m.Contents)));
        try
        {
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // the client left as the answer was sent
        }
        return response.Messages.LastOrDefault();
    }

    /// <summary>Answers as server-sent events; returns the whole answer when the stream completed, else null.</summary>
    private async Task<ChatMessage?> StreamAsync(HttpContext context, MistralChatClient client, ChatCompletionRequest request, ChatOptions options, CompletionHeader header)
    {
        var aborted = context.RequestAborted;
        var updates = client.GetStreamingResponseAsync(request.Messages, options, aborted).GetAsyncEnumerator(aborted);
        await using var _ = updates.ConfigureAwait(false);
        bool more;
        try
        {
            // The first update comes after the prompt is processed: a prompt that fails (too long for the context)
            // still gets a proper status code, since no header has been sent yet.
            more = await updates.MoveNextAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (!aborted.IsCancellationRequested)
        {
            await ApiErrors.WriteAsync(context, ToApiError(ex)).ConfigureAwait(false);
            return null;
        }
        catch (Exception)
        {
            return null;
        }

        var events = new ServerSentEvents(context);
        var answer = new System.Text.StringBuilder();
        var calls = new List<FunctionCallContent>();
        try
        {
            await events.StartAsync().ConfigureAwait(false);
            await events.WriteAsync(json => CompletionJson.WriteChunk(json, header, withRole: true, ""), aborted).ConfigureAwait(false);
            while (more)
            {
                var update = updates.Current;
                var text = update.Text;
                answer.Append(text);
                var updateCalls = ToolCalls(update.Contents);
                if (updateCalls is not null)
                {
                    // The library gives the calls whole, in one update: one delta carries them all.
                    calls.AddRange(updateCalls);
                    await events.WriteAsync(json => CompletionJson.WriteChunk(json, header, withRole: false, text, toolCalls: updateCalls), aborted).ConfigureAwait(false);
                }
                else if (update.FinishReason is { } finish)
                {
                    var usage = Usage(update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details);
                    await events.WriteAsync(json => CompletionJson.WriteChunk(json, header, withRole: false, text, FinishReason(finish), usage), aborted).ConfigureAwait(false);
                }
                else if (text.Length > 0)
                {
                    await events.WriteAsync(json => CompletionJson.WriteChunk(json, header, withRole: false, text), aborted).ConfigureAwait(false);
                }
                more = await updates.MoveNextAsync().ConfigureAwait(false);
            }
            await events.WriteDoneAsync(aborted).ConfigureAwait(false);
            List<AIContent> contents = [new TextContent(answer.ToString()), .. calls];
            return new ChatMessage(ChatRole.Assistant, calls.Count > 0 && answer.Length == 0 ? [.. calls] : contents);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
            // The client disconnected: generation was cancelled through the same token; the session is freed on return.
        }
        catch (Exception ex)
        {
            // Headers are sent: the failure becomes an error event, and the missing [DONE] tells the client it is incomplete.
            var error = ToApiError(ex);
            try
            {
                await events.WriteAsync(json =>
                {
                    json.WriteStartObject();
                    ApiErrors.WriteFields(json, error);
                    json.WriteEndObject();
                }, aborted).ConfigureAwait(false);
            }
            catch (Exception) when (aborted.IsCancellationRequested)
            {
            }
        }
        return null;
    }

    private ApiError ToApiError(Exception ex)
    {
        switch (ex)
        {
            case ContextFullException:
                return ApiError.InvalidField("messages", ex.Message) with { Code = "context_length_exceeded" };
            case ArgumentException or NotSupportedException:
                return ApiError.InvalidField("messages", ex.Message);
            default:
                logger.LogError(ex, "Generation failed");
                return ApiError.Internal($"Generation failed: {ex.Message}");
        }
    }

    private static string FinishReason(ChatFinishReason? reason) =>
        reason == ChatFinishReason.Length ? "length" : reason == ChatFinishReason.ToolCalls ? "tool_calls" : "stop";

    private static List<FunctionCallContent>? ToolCalls(IEnumerable<AIContent> contents) =>
        contents.OfType<FunctionCallContent>().ToList() is { Count: > 0 } calls ? calls : null;

    private static TokenUsage Usage(UsageDetails? usage) =>
        new((int)(usage?.InputTokenCount ?? 0), (int)(usage?.OutputTokenCount ?? 0));
}
