/**
 * Small but real Hugging Face tokenizer.json configurations (WordPiece cased, WordPiece
 * uncased + accent stripping, SentencePiece-style Metaspace) run by the real transformers.js
 * tokenizer code, for alignment tests that need no model.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

function wordpieceVocab(words: string[]): Record<string, number> {
  const vocab: Record<string, number> = {};
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  SPECIAL.forEach(add);
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789éáñöüçøßİ北京東';
  for (const c of chars) {
    add(c);
    add(`##${c}`);
  }
  for (const p of `.,;:!?'"()[]{}-_/\\@#$%&*+=<>|~\`^`) add(p);
  for (const w of words) add(w);
  return vocab;
}

const WORDS = ['John', 'Smith', 'smith', 'john', 'Berlin', 'Ber', '##lin', 'the', '##son', 'Siob', '##h', '##án', 'Nguy', '##ễn', 'siobhan'];

export function wordpieceTokenizer(opts: { lowercase?: boolean; stripAccents?: boolean } = {}): PreTrainedTokenizer {
  const lowercase = opts.lowercase ?? false;
  const json = {
    version: '1.0',
    added_tokens: SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: opts.stripAccents ?? lowercase, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: wordpieceVocab(lowercase ? WORDS.map((w) => (w.startsWith('##') ? w : w.toLowerCase())) : WORDS) },
  };
  return new PreTrainedTokenizer(json, { tokenizer_class: 'BertTokenizer', do_lower_case: lowercase, model_max_length: 512, unk_token: '[UNK]' });
}

/** A Metaspace (SentencePiece-style, `▁` marks word starts) tokenizer over a WordPiece-free BPE-less vocab. */
export function metaspaceTokenizer(): PreTrainedTokenizer {
  const vocab: [string, number][] = [['<unk>', 0], ['<s>', 0], ['</s>', 0]];
  const pieces = ['▁John', '▁Smith', '▁lives', '▁in', '▁Ber', 'lin', '▁', '.', ','];
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') pieces.push(c, `▁${c}`);
  for (const p of pieces) vocab.push([p, -1 - p.length * 0.01 + (p.length > 2 ? 5 : 0)]);
  const json = {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 1, content: '<s>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 2, content: '</s>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab },
  };
  return new PreTrainedTokenizer(json, { tokenizer_class: 'T5Tokenizer', unk_token: '<unk>' });
}

export function encode(tok: PreTrainedTokenizer, text: string): { ids: number[]; tokens: string[] } {
  const t = (tok as unknown as { _tokenizer: { encode(t: string, o: { add_special_tokens: boolean }): { ids: number[]; tokens: string[] } } })._tokenizer;
  return t.encode(text, { add_special_tokens: false });
}
