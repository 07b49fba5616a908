// The two official clients pointed at the server under test, configured only from the environment so the same tests
// run against any server: tests/Mistral.Server.Tests/NodeClientTests.cs starts ours and sets these variables.
//   MISTRAL_SERVER_URL       origin of a server with any chat model, e.g. http://127.0.0.1:8080 (no /v1)
//   MISTRAL_API_KEY          the key that server requires
//   MISTRAL_MODEL            model name sent with each request (default "mistral"; the server serves one model)
//   MISTRAL_TOOL_SERVER_URL  origin of a server whose model follows the tool plan in tools.test.js (optional:
//                            without it the tool tests are skipped)
import { Mistral } from '@mistralai/mistralai';
import OpenAI from 'openai';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`Set ${name}: see the comment at the top of support/clients.js.`);
  return value.replace(/\/+$/, '');
}

export const serverUrl = required('MISTRAL_SERVER_URL');
export const apiKey = process.env.MISTRAL_API_KEY ?? '';
export const model = process.env.MISTRAL_MODEL || 'mistral';
export const toolServerUrl = process.env.MISTRAL_TOOL_SERVER_URL?.replace(/\/+$/, '');

// Mistral's client appends /v1/chat/completions to serverURL itself; OpenAI's appends /chat/completions to baseURL.
export function mistralClient({ url = serverUrl, key = apiKey } = {}) {
  return new Mistral({ serverURL: url, apiKey: key });
}

// No retries: a failure should show at once, not after the client's backoff.
export function openaiClient({ url = serverUrl, key = apiKey } = {}) {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });
}

