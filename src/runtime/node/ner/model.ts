/**
 * Loading a token-classification model from disk with @huggingface/transformers (no network)
 * and running the pure NER pipeline with it. Node-only. Used inside the worker threads, and
 * directly by the eval / bench scripts when they want an in-process model.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Span } from '../../../detect/types.js';
import {
  type LabelMap,
  type MinScore,
  type PreparedText,
  type ResolvedLabel,
  type SubwordScheme,
  batchSequences,
  buildLabelTable,
  collectWindowProbs,
  decodePrepared,
  padBatch,
  prepareText,
  sequencesOf,
} from '../../../detect/ner/index.js';

export interface ModelFiles {
  readonly dir: string;
  readonly onnx: string;
  readonly dtype: 'fp32' | 'q8';
}

export class NerModelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NerModelError';
  }
}

/** Checks that `modelDir` holds a usable model; throws a clear NerModelError otherwise. */
export function locateModel(modelDir: string): ModelFiles {
  const dir = path.resolve(modelDir);
  const need = ['config.json', 'tokenizer.json'];
  const missing = need.filter((f) => !existsSync(path.join(dir, f)));
  const fp32 = path.join(dir, 'onnx', 'model.onnx');
  const q8 = path.join(dir, 'onnx', 'model_quantized.onnx');
  const onnx = existsSync(fp32) ? fp32 : existsSync(q8) ? q8 : null;
  if (!onnx) missing.push('onnx/model.onnx');
  if (!existsSync(dir) || missing.length > 0) {
    throw new NerModelError(
      `NER model not found at ${dir} (missing ${missing.join(', ')}): put a token-classification model there ` +
        `(see models/veil-ner/README.md for how to train it), or set VEIL_NER_MODEL to a model directory, or VEIL_NER=false to run without NER`,
    );
  }
  return { dir, onnx: onnx!, dtype: onnx === fp32 ? 'fp32' : 'q8' };
}

export interface NerRuntimeOptions {
  readonly modelDir: string;
  readonly labelMap?: LabelMap;
  readonly minScore?: MinScore;
  readonly maxBatch?: number;
  readonly windowTokens?: number;
  readonly overlap?: number;
  /** ONNX Runtime intra-op threads; default 1 */
  readonly threads?: number;
}

interface TokenizerLike {
  _tokenizer: { encode(text: string, o: { add_special_tokens: boolean }): { ids: number[]; tokens: string[] } };
}

export interface NerModelInfo {
  readonly dir: string;
  readonly onnx: string;
  readonly labels: readonly string[];
  readonly version: string | null;
  readonly loadMs: number;
}

/** A loaded model plus tokenizer, with `detect(texts)` running the whole pipeline in-process. */
export class NerRuntime {
  private constructor(
    readonly info: NerModelInfo,
    private readonly tokenizer: TokenizerLike,
    private readonly model: (inputs: Record<string, unknown>) => Promise<Record<string, { data: unknown; dims: number[] }>>,
    private readonly Tensor: new (type: string, data: BigInt64Array, dims: number[]) => unknown,
    private readonly labels: readonly ResolvedLabel[],
    private readonly prefix: readonly number[],
    private readonly suffix: readonly number[],
    private readonly padId: number,
    private readonly align: { scheme: SubwordScheme; unkTokens: string[]; cjkAsWords: boolean },
    private readonly opts: NerRuntimeOptions,
    private readonly disposeModel: () => Promise<unknown>,
  ) {}

  /** Releases the ONNX session (native memory). The runtime is unusable afterwards. */
  async dispose(): Promise<void> {
    await this.disposeModel();
  }

  static async load(opts: NerRuntimeOptions): Promise<NerRuntime> {
    const files = locateModel(opts.modelDir);
    const t0 = performance.now();
    try {
      const tf = await import('@huggingface/transformers');
      tf.env.allowRemoteModels = false;
      tf.env.allowLocalModels = true;
      tf.env.localModelPath = path.dirname(files.dir) + path.sep;
      tf.env.useFSCache = false;
      const name = path.basename(files.dir);
      const config = JSON.parse(readFileSync(path.join(files.dir, 'config.json'), 'utf8')) as {
        id2label?: Record<string, string>;
        veil?: { version?: string };
      };
      const tj = JSON.parse(readFileSync(path.join(files.dir, 'tokenizer.json'), 'utf8')) as {
        model?: { type?: string; continuing_subword_prefix?: string; unk_token?: string };
        normalizer?: { type?: string; handle_chinese_chars?: boolean } | null;
        pre_tokenizer?: { type?: string; replacement?: string; pretokenizers?: { type?: string; replacement?: string }[] } | null;
      };
      if (!config.id2label) throw new Error('config.json has no id2label');
      const labels = buildLabelTable(config.id2label, opts.labelMap);
      const tokenizer = (await tf.AutoTokenizer.from_pretrained(name, { local_files_only: true })) as unknown as TokenizerLike & {
        pad_token_id?: number;
        unk_token?: string;
      };
      const model = await tf.AutoModelForTokenClassification.from_pretrained(name, {
        local_files_only: true,
        dtype: files.dtype,
        device: 'cpu',
        session_options: { intraOpNumThreads: opts.threads ?? 1, interOpNumThreads: 1 },
      });
      // special tokens around a sequence, found by encoding a probe with and without them
      const probe = 'a';
      const bare = tokenizer._tokenizer.encode(probe, { add_special_tokens: false }).ids;
      const full = tokenizer._tokenizer.encode(probe, { add_special_tokens: true }).ids;
      let at = 0;
      while (at + bare.length <= full.length && bare.some((id, k) => full[at + k] !== id)) at++;
      const prefix = full.slice(0, at);
      const suffix = full.slice(at + bare.length);
      const pre = tj.pre_tokenizer;
      const metaspace =
        tj.model?.type === 'Unigram' ||
        pre?.type === 'Metaspace' ||
        (pre?.pretokenizers ?? []).some((p) => p.type === 'Metaspace');
      const scheme: SubwordScheme = metaspace
        ? { kind: 'metaspace', marker: pre?.replacement ?? '\u2581' }
        : { kind: 'wordpiece', prefix: tj.model?.continuing_subword_prefix ?? '##' };
      const unk = tj.model?.unk_token ?? tokenizer.unk_token ?? '[UNK]';
      const cjk = tj.normalizer?.type === 'BertNormalizer' ? tj.normalizer.handle_chinese_chars !== false : false;
      const loadMs = performance.now() - t0;
      const info: NerModelInfo = {
        dir: files.dir,
        onnx: files.onnx,
        labels: Object.values(config.id2label),
        version: config.veil?.version ?? null,
        loadMs,
      };
      return new NerRuntime(
        info,
        tokenizer,
        model as unknown as (i: Record<string, unknown>) => Promise<Record<string, { data: unknown; dims: number[] }>>,
        tf.Tensor as unknown as new (type: string, data: BigInt64Array, dims: number[]) => unknown,
        labels,
        prefix,
        suffix,
        tokenizer.pad_token_id ?? 0,
        { scheme, unkTokens: [unk], cjkAsWords: cjk },
        opts,
        async () => (model as unknown as { dispose?: () => Promise<unknown> }).dispose?.(),
      );
    } catch (e) {
      if (e instanceof NerModelError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new NerModelError(`NER model at ${files.dir} could not be loaded: ${msg.slice(0, 300)}`, { cause: e });
    }
  }

  /** Runs the pipeline for a batch of texts. */
  async detect(texts: readonly string[]): Promise<Span[][]> {
    const prepared: PreparedText[] = texts.map((text) =>
      prepareText(text, text.length === 0 ? { ids: [], tokens: [] } : this.tokenizer._tokenizer.encode(text, { add_special_tokens: false }), {
        ...this.align,
        ...(this.opts.windowTokens !== undefined ? { windowTokens: this.opts.windowTokens } : {}),
        ...(this.opts.overlap !== undefined ? { overlap: this.opts.overlap } : {}),
      }),
    );
    const seqs = sequencesOf(prepared, this.prefix, this.suffix);
    const probs = new Map<string, Float32Array>();
    const width = this.labels.length;
    for (const batch of batchSequences(seqs, this.opts.maxBatch ?? 16)) {
      const { inputIds, attentionMask, seqLen } = padBatch(batch, this.padId);
      const dims = [batch.length, seqLen];
      const out = await this.model({
        input_ids: new this.Tensor('int64', inputIds, dims),
        attention_mask: new this.Tensor('int64', attentionMask, dims),
      });
      const logits = out['logits'];
      if (!logits || !(logits.data instanceof Float32Array)) throw new Error('NER model returned no float32 logits');
      if (logits.dims[2] !== width) throw new Error(`NER model returned ${logits.dims[2]} classes; id2label has ${width}`);
      collectWindowProbs(batch, logits.data, seqLen, width, this.prefix.length, probs);
    }
    return prepared.map((p, i) => decodePrepared(p, i, probs, this.labels, this.opts.minScore !== undefined ? { minScore: this.opts.minScore } : {}));
  }
}
