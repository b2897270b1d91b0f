/**
 * Recipe: retrieval-augmented generation with the Vercel AI SDK (`ai`, `@ai-sdk/openai`) and
 * your own vector store, using Veil's primitives.
 *
 * - Indexing: `POST /v1/veil/sanitize` turns each chunk into sanitized text with the tenant's
 *   stable placeholders; `embedMany` embeds it through Veil's `/v1/embeddings` (which sanitizes
 *   its input too). Your store — here an array — holds placeholders and vectors only.
 * - Asking: `embed` embeds the question through Veil (sanitized with the same placeholders, so it
 *   meets the chunks), the nearest chunks by `cosineSimilarity` are the context, and
 *   `generateText` asks through Veil's `/v1/chat/completions`: the model sees placeholders only,
 *   and Veil restores the values in the answer as the caller's role allows.
 *
 * Run: VEIL_URL=http://127.0.0.1:8787/v1 VEIL_API_KEY=vk_… npx tsx examples/ai-sdk-rag.ts
 * Dependencies: ai, @ai-sdk/openai (tested in test/examples/recipes.test.ts).
 */
import { createOpenAI } from '@ai-sdk/openai';
import { cosineSimilarity, embed, embedMany, generateText } from 'ai';

export interface VeilOptions {
  /** Veil's OpenAI-compatible base URL, e.g. `http://127.0.0.1:8787/v1`. */
  readonly baseURL: string;
  /** A Veil API key (its tenant and role decide what is restored). */
  readonly apiKey: string;
  readonly embeddingModel: string;
  readonly chatModel: string;
}

export interface Chunk {
  readonly text: string;
  readonly embedding: number[];
}

/** Sanitizes the chunks through Veil and embeds the sanitized text: what your vector store keeps. */
export async function buildIndex(opts: VeilOptions, texts: string[]): Promise<Chunk[]> {
  const res = await fetch(`${opts.baseURL}/veil/sanitize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.apiKey}` },
    body: JSON.stringify({ texts }),
  });
  if (!res.ok) throw new Error(`Veil /veil/sanitize: ${res.status}`);
  const sanitized: string[] = ((await res.json()) as any).data.map((d: any) => d.text);
  const openai = createOpenAI({ baseURL: opts.baseURL, apiKey: opts.apiKey });
  const { embeddings } = await embedMany({ model: openai.embedding(opts.embeddingModel), values: sanitized, maxRetries: 0 });
  return sanitized.map((text, i) => ({ text, embedding: embeddings[i]! }));
}

/** Answers from the `k` nearest chunks, through Veil; the answer comes back restored. */
export async function ask(opts: VeilOptions, index: readonly Chunk[], question: string, k = 2): Promise<string> {
  const openai = createOpenAI({ baseURL: opts.baseURL, apiKey: opts.apiKey });
  const { embedding } = await embed({ model: openai.embedding(opts.embeddingModel), value: question, maxRetries: 0 });
  const context = [...index]
    .sort((a, b) => cosineSimilarity(embedding, b.embedding) - cosineSimilarity(embedding, a.embedding))
    .slice(0, k)
    .map((c) => c.text);
  const { text } = await generateText({ model: openai.chat(opts.chatModel), system: `Answer from this context only.\n\nContext:\n${context.join('\n')}`, prompt: question, maxRetries: 0 });
  return text;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts: VeilOptions = { baseURL: process.env.VEIL_URL ?? 'http://127.0.0.1:8787/v1', apiKey: process.env.VEIL_API_KEY ?? '', embeddingModel: 'text-embedding-3-small', chatModel: 'gpt-4o-mini' };
  const index = await buildIndex(opts, ['Refund for jane.roe@example.com approved, paid back to card 4111 1111 1111 1111.', 'Shipping is delayed by the storm.']);
  console.log(await ask(opts, index, 'What happened to the refund of jane.roe@example.com?'));
}
