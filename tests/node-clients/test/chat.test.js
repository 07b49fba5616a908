// Plain and streamed chat completions through both official clients: the response shapes they validate and read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mistralClient, openaiClient, model } from '../support/clients.js';

const messages = [{ role: 'user', content: 'Name three rivers in France.' }];
const maxTokens = 24;

// Usage must add up, and a 'length' finish means the whole budget was spent.
function assertUsage(usage, finishReason, where) {
  assert.ok(usage, `${where}: usage is present`);
  const { prompt, completion, total } = usage;
  assert.ok(prompt > 0, `${where}: prompt tokens ${prompt}`);
  assert.ok(completion > 0 && completion <= maxTokens, `${where}: completion tokens ${completion} of at most ${maxTokens}`);
  assert.equal(total, prompt + completion, `${where}: total = prompt + completion`);
  if (finishReason === 'length') assert.equal(completion, maxTokens, `${where}: 'length' spent max_tokens`);
}

test('Mistral client: chat.complete answers with content, a finish reason and usage', async () => {
  const response = await mistralClient().chat.complete({ model, messages, maxTokens, temperature: 0 });
  const [choice] = response.choices;
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(choice.message.content.length > 0, 'content is not empty');
  assert.ok(['stop', 'length'].includes(choice.finishReason), `finish reason ${choice.finishReason}`);
  const u = response.usage;
  assertUsage({ prompt: u.promptTokens, completion: u.completionTokens, total: u.totalTokens }, choice.finishReason, 'complete');
});

test('Mistral client: chat.stream deltas join into the same greedy answer and end with a finish reason', async () => {
  const client = mistralClient();
  const whole = await client.chat.complete({ model, messages, maxTokens, temperature: 0 });

  let text = '';
  const finishes = [];
  let usage;
  for await (const event of await client.chat.stream({ model, messages, maxTokens, temperature: 0 })) {
    const [choice] = event.data.choices;
    text += choice.delta.content ?? '';
    if (choice.finishReason) finishes.push(choice.finishReason);
    usage = event.data.usage ?? usage;
  }
  assert.ok(text.length > 0, 'streamed text is not empty');
  assert.equal(text, whole.choices[0].message.content, 'greedy: streamed and whole answers are the same text');
  assert.deepEqual(finishes, [whole.choices[0].finishReason], 'one finish reason, the whole answer\'s');
  assertUsage({ prompt: usage?.promptTokens, completion: usage?.completionTokens, total: usage?.totalTokens }, finishes[0], 'stream');
});

test('OpenAI client: chat.completions.create answers with content, a finish reason and usage', async () => {
  const response = await openaiClient().chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0 });
  const [choice] = response.choices;
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(choice.message.content.length > 0, 'content is not empty');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), `finish reason ${choice.finish_reason}`);
  const u = response.usage;
  assertUsage({ prompt: u.prompt_tokens, completion: u.completion_tokens, total: u.total_tokens }, choice.finish_reason, 'create');
});

test('OpenAI client: a streamed create joins into the same greedy answer and ends with a finish reason', async () => {
  const client = openaiClient();
  const whole = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0 });

  const stream = await client.chat.completions.create({
    model, messages, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  const finishes = [];
  let usage;
  for await (const chunk of stream) {
    const [choice] = chunk.choices;
    text += choice?.delta?.content ?? '';
    if (choice?.finish_reason) finishes.push(choice.finish_reason);
    usage = chunk.usage ?? usage;
  }
  assert.ok(text.length > 0, 'streamed text is not empty');
  assert.equal(text, whole.choices[0].message.content, 'greedy: streamed and whole answers are the same text');
  assert.deepEqual(finishes, [whole.choices[0].finish_reason], 'one finish reason, the whole answer\'s');
  assertUsage({ prompt: usage?.prompt_tokens, completion: usage?.completion_tokens, total: usage?.total_tokens }, finishes[0], 'stream');
});
