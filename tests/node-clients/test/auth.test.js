// A wrong API key: the server's 401 must reach the caller as each client's own error type, not as a parse failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MistralError } from '@mistralai/mistralai/models/errors';
import OpenAI from 'openai';
import { mistralClient, openaiClient, model, apiKey } from '../support/clients.js';

const request = { model, messages: [{ role: 'user', content: 'hello' }] };
const wrongKey = `${apiKey}-wrong`;

test('Mistral client: a wrong key is a MistralError with status 401', async () => {
  await assert.rejects(mistralClient({ key: wrongKey }).chat.complete({ ...request, maxTokens: 4 }), (error) => {
    assert.ok(error instanceof MistralError, `${error?.name}: ${error?.message}`);
    assert.equal(error.statusCode, 401);
    assert.equal(JSON.parse(error.body).code, 'invalid_api_key');
    return true;
  });
});

test('Mistral client: a wrong key refuses a stream with the same error', async () => {
  await assert.rejects(mistralClient({ key: wrongKey }).chat.stream({ ...request, maxTokens: 4 }), (error) => {
    assert.ok(error instanceof MistralError, `${error?.name}: ${error?.message}`);
    assert.equal(error.statusCode, 401);
    return true;
  });
});

test('OpenAI client: a wrong key is an AuthenticationError with status 401', async () => {
  await assert.rejects(openaiClient({ key: wrongKey }).chat.completions.create({ ...request, max_tokens: 4 }), (error) => {
    assert.ok(error instanceof OpenAI.AuthenticationError, `${error?.name}: ${error?.message}`);
    assert.equal(error.status, 401);
    return true;
  });
});

test('OpenAI client: a wrong key refuses a stream with the same error', async () => {
  await assert.rejects(openaiClient({ key: wrongKey }).chat.completions.create({ ...request, max_tokens: 4, stream: true }), (error) => {
    assert.ok(error instanceof OpenAI.AuthenticationError, `${error?.name}: ${error?.message}`);
    assert.equal(error.status, 401);
    return true;
  });
});

test('the right key is accepted, so the 401s above are about the key', async () => {
  const response = await openaiClient().chat.completions.create({ ...request, max_tokens: 4 });
  assert.ok(response.choices[0].message.content.length > 0);
});
