// JSON mode (response_format {"type": "json_object"}) through both clients: an answer that finished ("stop") is
// a JSON object JSON.parse accepts; one cut off by max_tokens ("length") is at least an object's start. The served
// model may be random-weight, so answers are sampled with a few seeds until one finishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mistralClient, openaiClient, model } from '../support/clients.js';

const messages = [{ role: 'user', content: 'Describe a river as a JSON object.' }];
const maxTokens = 120;
const seeds = [1, 2, 3, 4, 5, 6];

// Checks one answer; true when it finished, so its parse was checked.
function checkAnswer(content, finishReason, seed) {
  const at = `seed ${seed}, ${finishReason}: ${content}`;
  assert.ok(content.trimStart().startsWith('{'), `starts an object: ${at}`);
  if (finishReason !== 'stop') {
    assert.equal(finishReason, 'length', at);
    return false;
  }
  const value = JSON.parse(content);
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `an object: ${at}`);
  return true;
}

test('Mistral client: responseFormat json_object answers parse when they finish', async () => {
  const client = mistralClient();
  let finished = 0;
  for (const seed of seeds) {
    const response = await client.chat.complete({
      model, messages, maxTokens, temperature: 0.9, randomSeed: seed, responseFormat: { type: 'json_object' },
    });
    const [choice] = response.choices;
    if (checkAnswer(choice.message.content, choice.finishReason, seed) && ++finished === 2) break;
  }
  assert.ok(finished > 0, 'at least one answer closed its object, so a parse was checked');
});

test('OpenAI client: response_format json_object answers parse when they finish', async () => {
  const client = openaiClient();
  let finished = 0;
  for (const seed of seeds) {
    const response = await client.chat.completions.create({
      model, messages, max_tokens: maxTokens, temperature: 0.9, seed, response_format: { type: 'json_object' },
    });
    const [choice] = response.choices;
    if (checkAnswer(choice.message.content, choice.finish_reason, seed) && ++finished === 2) break;
  }
  assert.ok(finished > 0, 'at least one answer closed its object, so a parse was checked');
});
