// A tool-call round trip through both clients: the model calls get_weather, the client sends the result back in a
// tool message, the model answers from it. The server at MISTRAL_TOOL_SERVER_URL must serve a model built to follow
// this plan (tests/Mistral.Server.Tests/NodeClientTests.cs builds one with PlannedModel): after the user's turn it
// writes [TOOL_CALLS] get_weather {"city": "Paris"}, and after the tool results it writes "Sunny in Paris.".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mistralClient, openaiClient, model, toolServerUrl } from '../support/clients.js';

const skip = toolServerUrl ? false : 'MISTRAL_TOOL_SERVER_URL is not set';
const expectedArguments = { city: 'Paris' };
const expectedAnswer = 'Sunny in Paris.';
const toolResult = 'Sunny, 24°C';
const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];
const question = { role: 'user', content: 'What is the weather like?' };

// Mistral's client types arguments as a JSON string or an already-parsed object; OpenAI's always as a string.
const parsed = (args) => (typeof args === 'string' ? JSON.parse(args) : args);

test('Mistral client: a tool call, its result sent back, then the answer', { skip }, async () => {
  const client = mistralClient({ url: toolServerUrl });
  const first = await client.chat.complete({ model, messages: [question], tools, toolChoice: 'auto', temperature: 0 });
  const [choice] = first.choices;
  assert.equal(choice.finishReason, 'tool_calls');
  assert.equal(choice.message.toolCalls?.length, 1, JSON.stringify(choice.message));
  const [call] = choice.message.toolCalls;
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(parsed(call.function.arguments), expectedArguments);
  assert.ok(call.id, 'the call has an id to answer');

  const second = await client.chat.complete({
    model, tools, temperature: 0,
    messages: [question, choice.message, { role: 'tool', toolCallId: call.id, name: call.function.name, content: toolResult }],
  });
  assert.equal(second.choices[0].finishReason, 'stop');
  assert.equal(second.choices[0].message.content, expectedAnswer);
  assert.ok(!second.choices[0].message.toolCalls?.length, 'no second call');
});

test('OpenAI client: a tool call, its result sent back, then the answer', { skip }, async () => {
  const client = openaiClient({ url: toolServerUrl });
  const first = await client.chat.completions.create({ model, messages: [question], tools, tool_choice: 'auto', temperature: 0 });
  const [choice] = first.choices;
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls?.length, 1, JSON.stringify(choice.message));
  const [call] = choice.message.tool_calls;
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(parsed(call.function.arguments), expectedArguments);

  const second = await client.chat.completions.create({
    model, tools, temperature: 0,
    messages: [question, choice.message, { role: 'tool', tool_call_id: call.id, content: toolResult }],
  });
  assert.equal(second.choices[0].finish_reason, 'stop');
  assert.equal(second.choices[0].message.content, expectedAnswer);
  assert.ok(!second.choices[0].message.tool_calls?.length, 'no second call');
});

test('OpenAI client: a streamed tool call arrives whole in the deltas', { skip }, async () => {
  const stream = await openaiClient({ url: toolServerUrl }).chat.completions.create({
    model, messages: [question], tools, temperature: 0, stream: true,
  });
  const calls = [];
  let finish;
  for await (const chunk of stream) {
    const [choice] = chunk.choices;
    for (const delta of choice?.delta?.tool_calls ?? []) calls.push(delta);
    finish = choice?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].function.name, 'get_weather');
  assert.deepEqual(parsed(calls[0].function.arguments), expectedArguments);
});
