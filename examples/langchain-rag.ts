/**
 * Recipe: retrieval-augmented generation with LangChain JS through Veil.
 *
 * - Documents go into an encrypted Veil collection (`POST /v1/veil/collections/{name}/documents`):
 *   Veil sanitizes each text, embeds the sanitized text through your embeddings API, and stores
 *   it with PII metadata sealed. Neither the embeddings API nor the vector store sees a value.
 * - {@link VeilRetriever} is a LangChain retriever over `POST /v1/veil/collections/{name}/query`:
 *   the question is sanitized with the same placeholders, so it meets the documents in embedding
 *   space; the documents come back with placeholders (`[EMAIL_…]`).
 * - `ChatOpenAI` talks to Veil's OpenAI-compatible `/v1/chat/completions`: the question (with
 *   raw PII) and the retrieved context (placeholders) reach the model as placeholders only, and
 *   Veil restores the values in the answer as the caller's role allows.
 *
 * Run: VEIL_URL=http://127.0.0.1:8787/v1 VEIL_API_KEY=vk_… npx tsx examples/langchain-rag.ts
 * Dependencies: @langchain/core, @langchain/openai (tested in test/examples/recipes.test.ts).
 */
import { Document } from '@langchain/core/documents';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { BaseRetriever } from '@langchain/core/retrievers';
import { ChatOpenAI } from '@langchain/openai';

export interface VeilOptions {
  /** Veil's OpenAI-compatible base URL, e.g. `http://127.0.0.1:8787/v1`. */
  readonly baseURL: string;
  /** A Veil API key (its tenant and role decide what is restored). */
  readonly apiKey: string;
  readonly collection: string;
  readonly embeddingModel: string;
  readonly chatModel: string;
  readonly k?: number;
}

async function veil(opts: VeilOptions, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${opts.baseURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.apiKey}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`Veil ${path}: ${res.status} ${json?.error?.message ?? ''}`);
  return json;
}

/** Stores documents in the Veil collection (sanitized, embedded, PII metadata sealed). */
export async function addDocuments(opts: VeilOptions, docs: { id: string; text: string; metadata?: Record<string, string | number | boolean | null> }[]): Promise<void> {
  await veil(opts, `/veil/collections/${opts.collection}/documents`, { model: opts.embeddingModel, documents: docs });
}

/** A LangChain retriever over a Veil collection: documents come back with placeholders. */
export class VeilRetriever extends BaseRetriever {
  override lc_namespace = ['veil', 'retrievers'];

  constructor(private readonly opts: VeilOptions) {
    super();
  }

  override async _getRelevantDocuments(query: string): Promise<Document[]> {
    const r = await veil(this.opts, `/veil/collections/${this.opts.collection}/query`, { model: this.opts.embeddingModel, query, k: this.opts.k ?? 4 });
    return r.data.map((d: any) => new Document({ pageContent: d.text, metadata: { id: d.id, distance: d.distance, ...d.metadata } }));
  }
}

/** Retrieves context through Veil and answers through Veil; the answer comes back restored. */
export async function answer(opts: VeilOptions, question: string): Promise<string> {
  const docs = await new VeilRetriever(opts).invoke(question);
  const prompt = ChatPromptTemplate.fromMessages([
    ['system', 'Answer from this context only.\n\nContext:\n{context}'],
    ['human', '{question}'],
  ]);
  const llm = new ChatOpenAI({ model: opts.chatModel, apiKey: opts.apiKey, configuration: { baseURL: opts.baseURL }, maxRetries: 0 });
  return prompt.pipe(llm).pipe(new StringOutputParser()).invoke({ context: docs.map((d) => d.pageContent).join('\n'), question });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts: VeilOptions = {
    baseURL: process.env.VEIL_URL ?? 'http://127.0.0.1:8787/v1',
    apiKey: process.env.VEIL_API_KEY ?? '',
    collection: 'support',
    embeddingModel: 'text-embedding-3-small',
    chatModel: 'gpt-4o-mini',
  };
  await addDocuments(opts, [{ id: 'ticket-1', text: 'Refund for jane.roe@example.com approved, paid back to card 4111 1111 1111 1111.', metadata: { owner: 'jane.roe@example.com' } }]);
  console.log(await answer(opts, 'What happened to the refund of jane.roe@example.com?'));
}
