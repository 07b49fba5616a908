// A stream the caller abandons (AbortController) mid-answer: each client reports the abort, and the server, which
// stops that generation when the connection closes, goes on answering the next request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mistralClient, openaiClient, model } from '../support/clients.js';

const messages = [{ role: 'user', content: 'Tell me a long story.' }];
// Far more tokens than arrive before the abort, so the stream is still running when it is aborted (the test server
// allows 2,000, about 20 s of its memory-bound model: a client starved of CPU for seconds on a loaded test machine
// still aborts mid-stream; a greedy answer of the synthetic model does not end sooner).
const maxTokens = 2000;

// Reads until the first text arrives, then aborts; returns what the reading loop threw and whether the stream had ended.
async function abortAfterFirstText(events, controller, textOf, finishOf) {
  let ended = false;
  try {
    for await (const event of events) {
      if (finishOf(event)) ended = true;
      if (textOf(event)) controller.abort();
    }
  } catch (error) {
    return { error, ended };
  }
  return { error: null, ended };
}

test('Mistral client: an aborted stream stops with an AbortError and the server answers the next request', async () => {
  const client = mistralClient();
  const controller = new AbortController();
  const events = await client.chat.stream({ model, messages, maxTokens, temperature: 0 }, { signal: controller.signal });
  const { error, ended } = await abortAfterFirstText(events, controller,
    (e) => e.data.choices[0]?.delta.content, (e) => e.data.choices[0]?.finishReason);

  assert.equal(ended, false, 'the abort came before the answer ended');
  assert.ok(error, 'reading the aborted stream threw');
  assert.equal(error.name, 'AbortError', `${error.name}: ${error.message}`);

  const next = await client.chat.complete({ model, messages, maxTokens: 8, temperature: 0 });
  assert.ok(next.choices[0].message.content.length > 0, 'the request after the abort is answered');
});

// openai's Stream treats an abort as the caller's choice: the loop just ends, without an error or a finish reason.
test('OpenAI client: an aborted stream ends the loop early and the server answers the next request', async () => {
  const client = openaiClient();
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model, messages, max_tokens: maxTokens, temperature: 0, stream: true }, { signal: controller.signal });
  const { error, ended } = await abortAfterFirstText(stream, controller,
    (c) => c.choices[0]?.delta?.content, (c) => c.choices[0]?.finish_reason);

  assert.equal(error, null, 'the loop ended without throwing');
  assert.ok(controller.signal.aborted, 'it ended because of the abort');
  assert.equal(ended, false, 'the abort came before the answer ended');

  const next = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
  assert.ok(next.choices[0].message.content.length > 0, 'the request after the abort is answered');
});
