"""Train, evaluate and export the Veil on-device NER model.

Usage (see scripts/ner/train.sh, which prepares the ingredients first):
  /usr/bin/python3 scripts/ner/train.py --epochs 8 --out models/veil-ner
Environment: NER_DATA_DIR (default ../shared/ner-data relative to the repo root).
Everything is seeded (--seed). Uses one CPU thread.
"""
import argparse, json, math, os, random, sys, time
from collections import Counter

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from veil_tok import normalize, pretokenize, pretokenize_with_offsets, WordPiece, is_punct, is_chinese_cp  # noqa: E402
import corpora  # noqa: E402

torch.set_num_threads(1)

LABELS = ["O", "B-PERSON", "I-PERSON", "B-LOCATION", "I-LOCATION", "B-ORGANIZATION", "I-ORGANIZATION", "B-ADDRESS", "I-ADDRESS"]
L2I = {l: i for i, l in enumerate(LABELS)}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAXC = 16  # characters per piece fed to the char CNN

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ----------------------------------------------------------------------------- data
TYPE_MAP = {"PER": "PERSON", "LOC": "LOCATION", "ORG": "ORGANIZATION", "person": "PERSON", "location": "LOCATION",
            "corporation": "ORGANIZATION", "group": "ORGANIZATION"}


def read_conll(path, col=1, skip_comments=False, iob1=False):
    """Returns list of (tokens, tags) with tags mapped to Veil types in BIO (unknown types -> O)."""
    sents, toks, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if skip_comments and line.startswith("#"):
                continue
            if not line.strip():
                if toks:
                    sents.append((toks, tags)); toks, tags = [], []
                continue
            parts = line.split("\t") if "\t" in line else line.split(" ")
            if skip_comments:
                tok, tag = parts[1], parts[2]
            else:
                tok, tag = parts[0], parts[col]
            toks.append(tok); tags.append(tag)
    if toks:
        sents.append((toks, tags))
    out = []
    for toks, tags in sents:
        bio, prev = [], "O"
        for t in tags:
            if t == "O" or "-" not in t:
                bio.append("O"); prev = "O"; continue
            p, ty = t.split("-", 1)
            ty = TYPE_MAP.get(ty)
            if ty is None:
                bio.append("O"); prev = "O"; continue
            if p == "B" or (p == "I" and prev != ty):
                bio.append("B-" + ty)
            else:
                bio.append("I-" + ty)
            prev = ty
        out.append((toks, bio))
    return out


def split_tokens(sent):
    """Apply the BERT pre-tokenizer inside each corpus token (e.g. '@user' -> '@','user')."""
    toks, tags = sent
    words, labels = [], []
    for tok, tag in zip(toks, tags):
        parts = [p for p, _, _ in pretokenize(normalize(tok))]
        for j, p in enumerate(parts):
            words.append(p)
            if tag != "O" and j > 0:
                labels.append("I-" + tag[2:])
            else:
                labels.append(tag)
    return words, labels


def read_synth(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            ex = json.loads(line)
            text, spans = ex["text"], ex["spans"]
            words, labels = [], []
            prev_span = None
            for w, s, e in pretokenize_with_offsets(text):
                lab = "O"; cur = None
                for k, (ss, se, ty) in enumerate(spans):
                    if s >= ss and e <= se:
                        cur = k; lab = ("I-" if prev_span == k else "B-") + ty
                        break
                prev_span = cur
                words.append(w); labels.append(lab)
            out.append((words, labels))
    return out


# ----------------------------------------------------------------------------- vocab
def shape_of(piece):
    p = piece[2:] if piece.startswith("##") else piece
    if not p:
        return 7
    if any(c.isdigit() for c in p):
        return 5
    if all(is_punct(c) for c in p):
        return 6
    letters = [c for c in p if c.isalpha()]
    if not letters or not any(c.lower() != c.upper() for c in letters):
        return 7  # uncased script (CJK, Arabic, Hebrew, Devanagari...)
    if all(c.islower() for c in letters if c.lower() != c.upper()):
        return 1
    if all(c.isupper() for c in letters if c.lower() != c.upper()):
        return 3 if len(letters) > 1 else 2
    if letters[0].isupper() and all(c.islower() for c in letters[1:] if c.lower() != c.upper()):
        return 2
    return 4


CHAR_RANGES = [(0x21, 0x7E), (0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x530, 0x58F), (0x5D0, 0x5EA),
               (0x600, 0x6FF), (0x900, 0x97F), (0x980, 0x9FF), (0xE00, 0xE7F), (0x10A0, 0x10FF), (0x1E00, 0x1EFF),
               (0x3040, 0x30FF)]


def build_vocab(train_words, wink_words, n_wink=8000, n_sub=3000, min_count=2):
    vocab = list(SPECIALS)
    seen = set(vocab)

    def add(t):
        if t not in seen and len(t) <= 100:
            seen.add(t); vocab.append(t)

    chars = set()
    for a, b in CHAR_RANGES:
        for c in range(a, b + 1):
            ch = chr(c)
            if unicodedata_ok(ch):
                chars.add(ch)
    wc = Counter(train_words)
    for w in wc:
        chars.update(w)
    for ch in sorted(chars):
        if ch.isspace():
            continue
        add(ch)
        if not is_punct(ch) and not is_chinese_cp(ord(ch)):
            add("##" + ch)
    # whole words from training text (cased)
    for w, c in wc.most_common():
        if c >= min_count:
            add(w)
    # frequent English words from the vectors, lower + Title case
    k = 0
    for w in wink_words:
        if k >= n_wink:
            break
        if not w.isalpha():
            continue
        k += 1
        add(w); add(w[:1].upper() + w[1:])
    # sub-word pieces: frequent prefixes and continuation substrings
    pre, suf = Counter(), Counter()
    src = Counter(wc)
    for i, w in enumerate(wink_words[:60000]):
        if w.isalpha():
            src[w] += max(1, 20 - i // 3000)
            src[w[:1].upper() + w[1:]] += 1
    for w, c in src.items():
        n = len(w)
        if n < 4:
            continue
        for L in range(2, min(6, n)):
            pre[w[:L]] += c
        for s in range(1, n - 1):
            for L in range(2, min(5, n - s + 1)):
                suf["##" + w[s:s + L]] += c
    for t, _ in pre.most_common(n_sub):
        add(t)
    for t, _ in suf.most_common(n_sub):
        add(t)
    # non-ASCII words (names and places in many scripts) get their own sub-word budget
    pre2, suf2 = Counter(), Counter()
    for w, c in wc.items():
        n = len(w)
        if n < 3 or all(ord(ch) < 128 for ch in w):
            continue
        for L in range(2, min(6, n)):
            pre2[w[:L]] += c
            pre2[(w[:L]).lower()] += c
        for s_ in range(1, n - 1):
            for L in range(2, min(5, n - s_ + 1)):
                suf2["##" + w[s_:s_ + L]] += c
    for t, _ in pre2.most_common(n_sub // 2):
        add(t)
    for t, _ in suf2.most_common(n_sub // 2):
        add(t)
    return vocab


def unicodedata_ok(ch):
    import unicodedata
    cat = unicodedata.category(ch)
    return cat[0] in "LNPS" and not ch.isspace()


def build_tables(vocab, wink_index, wink_vecs, char_list):
    """Constant per-id tables used inside the graph."""
    lower_keys = {}
    lower_tab = np.zeros(len(vocab), dtype=np.int64)
    for i, t in enumerate(vocab):
        key = t if t in SPECIALS else t.lower()
        if key not in lower_keys:
            lower_keys[key] = len(lower_keys)
        lower_tab[i] = lower_keys[key]
    n_lower = len(lower_keys)
    dim = wink_vecs.shape[1] if wink_vecs is not None else 100
    rng = np.random.RandomState(7)
    E = (rng.randn(n_lower, dim) * 0.3).astype(np.float32)
    frozen = np.zeros(n_lower, dtype=np.float32)
    hits = 0
    if wink_vecs is not None:
        for key, j in lower_keys.items():
            if key.startswith("##") or key in SPECIALS:
                continue
            wi = wink_index.get(key)
            if wi is not None:
                E[j] = wink_vecs[wi]; frozen[j] = 1.0; hits += 1
    E[lower_keys["[PAD]"]] = 0
    char_ix = {c: i + 2 for i, c in enumerate(char_list)}  # 0 pad, 1 unknown char
    char_tab = np.zeros((len(vocab), MAXC), dtype=np.int64)
    shape_tab = np.zeros(len(vocab), dtype=np.int64)
    for i, t in enumerate(vocab):
        if t in SPECIALS:
            shape_tab[i] = 0; continue
        cont = t.startswith("##") and len(t) > 2
        shape_tab[i] = shape_of(t) * 2 + (1 if cont else 0)
        body = t[2:] if cont else t
        for k, ch in enumerate(list(body)[:MAXC]):
            char_tab[i, k] = char_ix.get(ch, 1)
    return lower_tab, E, frozen, char_tab, shape_tab, hits


# ----------------------------------------------------------------------------- model
class Layer(nn.Module):
    def __init__(self, d, h, ff, drop):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d)
        self.f1 = nn.Linear(d, ff)
        self.f2 = nn.Linear(ff, d)
        self.ln2 = nn.LayerNorm(d)
        self.drop = nn.Dropout(drop)

    def forward(self, x, bias):
        B, L, D = x.shape
        hd = D // self.h
        q, k, v = self.qkv(x).view(B, L, 3, self.h, hd).permute(2, 0, 3, 1, 4)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd)) + bias
        att = self.drop(torch.softmax(att, dim=-1))
        y = torch.matmul(att, v).transpose(1, 2).reshape(B, L, D)
        x = self.ln1(x + self.drop(self.o(y)))
        x = self.ln2(x + self.drop(self.f2(self.drop(F.gelu(self.f1(x))))))
        return x


class VeilNER(nn.Module):
    def __init__(self, lower_tab, E, frozen, char_tab, shape_tab, n_chars, d=192, layers=3, heads=4, ff=640, drop=0.1):
        super().__init__()
        # constant id tables (small integer types keep the ONNX file small; cast after the Gather)
        self.register_buffer("lower_tab", torch.from_numpy(lower_tab.astype(np.int32)))
        self.register_buffer("char_tab", torch.from_numpy(char_tab.astype(np.int16)))
        self.register_buffer("shape_tab", torch.from_numpy(shape_tab.astype(np.int8)))
        self.word = nn.Embedding(E.shape[0], E.shape[1])
        self.word.weight.data.copy_(torch.from_numpy(E))
        self.register_buffer("grad_mask", torch.from_numpy(1.0 - frozen).unsqueeze(1), persistent=False)
        self.word.weight.register_hook(lambda g: g * self.grad_mask)
        self.shape = nn.Embedding(16, 24)
        self.char = nn.Embedding(n_chars + 2, 32, padding_idx=0)
        self.conv = nn.Conv1d(32, 96, 3, padding=1)
        self.proj = nn.Linear(E.shape[1] + 24 + 96, d)
        self.pos = nn.Embedding(512, d)
        self.ln = nn.LayerNorm(d)
        self.drop = nn.Dropout(drop)
        self.layers = nn.ModuleList([Layer(d, heads, ff, drop) for _ in range(layers)])
        self.cls = nn.Linear(d, len(LABELS))
        self.pos_offset = 0

    def forward(self, input_ids, attention_mask):
        B, L = input_ids.shape
        w = self.word(self.lower_tab[input_ids].long())
        s = self.shape(self.shape_tab[input_ids].long())
        ch = self.char(self.char_tab[input_ids].long())  # B L C 32
        ch = ch.reshape(-1, MAXC, 32).transpose(1, 2)
        ch = torch.relu(self.conv(ch)).max(dim=2)[0].reshape(B, L, 96)
        pos_ids = torch.cumsum(torch.ones_like(input_ids), dim=1) - 1
        if self.training and self.pos_offset:
            pos_ids = pos_ids + self.pos_offset
        x = self.proj(torch.cat([w, s, ch], dim=-1)) + self.pos(pos_ids)
        x = self.drop(self.ln(x))
        bias = (1.0 - attention_mask.to(x.dtype)).unsqueeze(1).unsqueeze(2) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return self.cls(x)


class QuantEmbedding(nn.Module):
    """int8 rows + one fp32 scale per row; dequantized after the Gather inside the graph."""
    def __init__(self, weight):
        super().__init__()
        w = weight.detach()
        scale = w.abs().max(dim=1, keepdim=True)[0].clamp(min=1e-8) / 127.0
        self.register_buffer("q", torch.round(w / scale).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale.float())

    def forward(self, idx):
        return self.q[idx].float() * self.scale[idx]


# ----------------------------------------------------------------------------- encode / eval
def encode(words, labels, wp, vocab_ids):
    ids, labs, first = [], [], []
    for w, l in zip(words, labels):
        pieces = wp.encode_word(w)
        for j, p in enumerate(pieces):
            ids.append(p)
            if j == 0:
                labs.append(L2I[l]); first.append(1)
            else:
                labs.append(L2I["I-" + l[2:]] if l != "O" else 0); first.append(0)
    return ids, labs, first


def spans_of(tags):
    out, cur = set(), None
    for i, t in enumerate(tags + ["O"]):
        if t.startswith("I-") and cur and cur[2] == t[2:]:
            continue
        if cur:
            out.add((cur[0], i, cur[2])); cur = None
        if t != "O":
            cur = (i, None, t[2:])
    return out


def evaluate(model, data, wp, vocab_ids, bs=32):
    """Entity-level P/R/F1 per type on word level (first-piece prediction)."""
    model.eval()
    tp, fp, fn = Counter(), Counter(), Counter()
    with torch.no_grad():
        for b in range(0, len(data), bs):
            batch = data[b:b + bs]
            enc = [encode(w, l, wp, vocab_ids) for w, l in batch]
            L = min(512, max(len(e[0]) for e in enc) + 2)
            ids = torch.zeros(len(batch), L, dtype=torch.long); mask = torch.zeros_like(ids)
            for i, e in enumerate(enc):
                seq = [2] + e[0][:L - 2] + [3]
                ids[i, :len(seq)] = torch.tensor(seq); mask[i, :len(seq)] = 1
            pred = model(ids, mask).argmax(-1)
            for i, ((words, gold), e) in enumerate(zip(batch, enc)):
                p = pred[i, 1:1 + len(e[0])].tolist()
                ptags = [LABELS[p[k]] for k in range(len(p)) if e[2][k]]
                ptags += ["O"] * (len(gold) - len(ptags))
                g, s = spans_of(list(gold)), spans_of(ptags)
                for x in s & g: tp[x[2]] += 1
                for x in s - g: fp[x[2]] += 1
                for x in g - s: fn[x[2]] += 1
    res = {}
    for ty in ["PERSON", "LOCATION", "ORGANIZATION", "ADDRESS", "ALL"]:
        if ty == "ALL":
            t, f_, n = sum(tp.values()), sum(fp.values()), sum(fn.values())
        else:
            t, f_, n = tp[ty], fp[ty], fn[ty]
        if t + n == 0 and t + f_ == 0:
            continue
        P = t / (t + f_) if t + f_ else 0.0
        R = t / (t + n) if t + n else 0.0
        res[ty] = {"p": round(P, 3), "r": round(R, 3), "f1": round(2 * P * R / (P + R) if P + R else 0.0, 3), "support": t + n}
    model.train()
    return res


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("NER_DATA_DIR", os.path.join(ROOT, "..", "shared", "ner-data")))
    ap.add_argument("--synth", default=os.path.join(HERE, "out", "synth.jsonl"))
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "veil-ner"))
    ap.add_argument("--work", default=os.path.join(HERE, "out"))
    ap.add_argument("--epochs", type=float, default=8)
    ap.add_argument("--max-minutes", type=float, default=40)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--d", type=int, default=192)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--ff", type=int, default=640)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--tokens-per-batch", type=int, default=4096)
    ap.add_argument("--version", default="1")
    ap.add_argument("--init-onnx", default=None, help="continue training from an exported model.onnx (same data/seed => same vocab)")
    ap.add_argument("--init-ckpt", default=None, help="continue training from scripts/ner/out/ckpt.pt")
    ap.add_argument("--real-repeat", type=int, default=1, help="repeat the real (non-synthetic) corpora this many times per epoch")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--person-weight", type=float, default=2.0, help="loss weight of B-/I-PERSON (O = 1)")
    ap.add_argument("--entity-weight", type=float, default=1.5, help="loss weight of the other entity labels")
    ap.add_argument("--synth-limit", type=int, default=0, help="use at most this many synthetic training sentences (0 = all)")
    ap.add_argument("--extra-corpora", default="", help="comma list of corpora.py loaders to add to training ('all' = every one)")
    ap.add_argument("--vocab-from", default=None, help="model folder whose tokenizer.json fixes the vocabulary (with --init-onnx: "
                    "continue an exported model on different data)")
    args = ap.parse_args()
    random.seed(args.seed); np.random.seed(args.seed); torch.manual_seed(args.seed)
    t0 = time.time()
    D = args.data
    # --- corpora (never any test split: not UNER test, WNUT-17 test, BTC h, Presidio synth set)
    train, dev = {}, {}
    train["wikigold"] = read_conll(os.path.join(D, "wikigold", "wikigold.conll.txt"), col=1)
    train["btc_abefg"] = sum((read_conll(os.path.join(D, "btc", s + ".conll")) for s in "abefg"), [])
    train["wnut17_train_dev"] = read_conll(os.path.join(D, "wnut17", "train.conll")) + read_conll(os.path.join(D, "wnut17", "dev.conll"))
    uner_dev = read_conll(os.path.join(D, "uner-en-ewt", "en_ewt-ud-dev.iob2"), skip_comments=True)
    cut = int(len(uner_dev) * 0.75)  # documents are contiguous: the last quarter is held out
    train["uner_dev_first75"] = uner_dev[:cut]
    dev["uner_dev_last25"] = uner_dev[cut:]
    dev["btc_h"] = read_conll(os.path.join(D, "btc", "h.conll"))
    if args.extra_corpora:
        extra = corpora.load_all(D, seed=args.seed)
        want = set(extra) if args.extra_corpora == "all" else set(args.extra_corpora.split(","))
        for k, v in extra.items():
            if k in want:
                train[k] = v
    for k in train: train[k] = [split_tokens(s) for s in train[k]]
    for k in dev: dev[k] = [split_tokens(s) for s in dev[k]]
    synth = read_synth(args.synth)
    n_dev_synth = min(1000, len(synth) // 10)
    dev["synth_heldout"] = synth[:n_dev_synth]
    train["synthetic"] = synth[n_dev_synth:]
    for k, v in list(train.items()) + list(dev.items()):
        log(f"data {k}: {len(v)} sentences, {sum(len(w) for w, _ in v)} words")
    # --- word vectors
    wink_words, wink_vecs, wink_index = [], None, {}
    wpath = os.path.join(args.cache, "wink_vecs.npy")
    if os.path.exists(wpath):
        wink_vecs = np.load(wpath)
        with open(os.path.join(args.cache, "wink_words.txt"), encoding="utf-8") as f:
            wink_words = [l.rstrip("\n") for l in f]
        wink_index = {w: i for i, w in enumerate(wink_words)}
    else:
        log("WARNING: no word vectors in cache; training from random embeddings")
    # --- vocab
    all_train = [x for v in train.values() for x in v]
    train_words = [w for ws, _ in all_train for w in ws]
    if args.vocab_from:
        with open(os.path.join(args.vocab_from, "tokenizer.json"), encoding="utf-8") as f:
            tv = json.load(f)["model"]["vocab"]
        vocab = [t for t, _ in sorted(tv.items(), key=lambda x: x[1])]
        log(f"vocabulary fixed from {args.vocab_from}")
    else:
        vocab = build_vocab(train_words, wink_words)
    vocab_ids = {t: i for i, t in enumerate(vocab)}
    wp = WordPiece(vocab_ids)
    cc = Counter(ch for w in train_words for ch in w)
    if args.synth_limit:  # after the vocabulary, so a limited run keeps the same vocabulary
        train["synthetic"] = train["synthetic"][:args.synth_limit]
        all_train = [x for v in train.values() for x in v]
    char_list = [c for c, n in cc.most_common(600) if n >= 3]
    lower_tab, E, frozen, char_tab, shape_tab, hits = build_tables(vocab, wink_index, wink_vecs, char_list)
    if args.vocab_from and args.init_onnx:  # the character table and its size come from the model being continued
        import onnx
        from onnx import numpy_helper
        oi = {i.name: numpy_helper.to_array(i) for i in onnx.load(args.init_onnx).graph.initializer}
        char_tab = oi["char_tab"].astype(np.int64)
        char_list = [None] * (oi["char.weight"].shape[0] - 2)
    # keep only the vector rows we ship
    log(f"vocab {len(vocab)} pieces, {E.shape[0]} lowercase rows ({hits} from word vectors), {len(char_list)} chars")
    model = VeilNER(lower_tab, E, frozen, char_tab, shape_tab, len(char_list), d=args.d, layers=args.layers, ff=args.ff)
    if args.init_onnx:
        init_from_onnx(model, args.init_onnx, vocab)
        log(f"initialised weights from {args.init_onnx}")
    elif args.init_ckpt:
        model.load_state_dict(torch.load(args.init_ckpt), strict=False)
        log(f"initialised weights from {args.init_ckpt}")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"params {n_params}")
    # --- encode training data
    enc = []
    unk = 0; tot = 0
    n_real = len(all_train) - len(train["synthetic"])
    for k, (words, labels) in enumerate(all_train):
        if k < n_real and random.random() < 0.1:  # lowercased copies of real text (chat-style typing)
            lw = [w.lower() for w in words]
            ids, labs, _ = encode(lw, labels, wp, vocab_ids)
            enc.append((ids, labs))
        ids, labs, _ = encode(words, labels, wp, vocab_ids)
        for _ in range(args.real_repeat - 1 if k < n_real else 0):
            enc.append((ids, labs))
        if ids:
            enc.append((ids, labs)); unk += sum(1 for i in ids if i == 1); tot += len(ids)
    log(f"train pieces {tot}, unk rate {unk / max(1, tot):.4f}")

    def packed_batches():
        order = list(range(len(enc))); random.shuffle(order)
        seqs, cur_ids, cur_labs = [], [], []
        target = random.randint(24, 250)
        for i in order:
            ids, labs = enc[i]
            ids, labs = ids[:250], labs[:250]
            if cur_ids and len(cur_ids) + len(ids) > target:
                seqs.append((cur_ids, cur_labs)); cur_ids, cur_labs = [], []
                target = random.choice([random.randint(16, 64), random.randint(24, 250)])
            cur_ids = cur_ids + ids; cur_labs = cur_labs + labs
        if cur_ids:
            seqs.append((cur_ids, cur_labs))
        seqs.sort(key=lambda s: len(s[0]))
        batches, b = [], []
        for s in seqs:
            b.append(s)
            if len(b) * (len(s[0]) + 2) >= args.tokens_per_batch:
                batches.append(b); b = []
        if b:
            batches.append(b)
        random.shuffle(batches)
        return batches

    def tensorize(b):
        L = max(len(s[0]) for s in b) + 2
        ids = torch.zeros(len(b), L, dtype=torch.long); labs = torch.full((len(b), L), -100, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, (x, y) in enumerate(b):
            n = len(x)
            ids[i, 0] = 2; ids[i, 1:1 + n] = torch.tensor(x); ids[i, 1 + n] = 3
            labs[i, 1:1 + n] = torch.tensor(y); mask[i, :n + 2] = 1
        # token dropout to [UNK] (robustness to unseen words)
        drop = (torch.rand(ids.shape) < 0.03) & (ids > 4)
        ids = ids.masked_fill(drop, 1)
        return ids, mask, labs, L

    emb_params = [model.word.weight]
    other = [p for n, p in model.named_parameters() if n != "word.weight"]
    opt = torch.optim.AdamW([{"params": emb_params, "weight_decay": 0.0}, {"params": other, "weight_decay": 0.01}], lr=args.lr)
    n_batches = len(packed_batches())
    total_steps = max(1, int(n_batches * args.epochs))
    warm = max(1, min(args.warmup, total_steps // 15))
    t_train = time.time()
    budget_s = args.max_minutes * 60 - (time.time() - t0) - 180  # leave time for eval + export

    def progress(s):  # by steps or by wall time, whichever is further: the cosine always completes
        return min(1.0, max(s / total_steps, (time.time() - t_train) / max(60.0, budget_s)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.02, 0.5 * (1 + math.cos(math.pi * progress(s)))))
    # favour recall of entities (PERSON most): missed PII is worse than an extra placeholder
    pw, ew = args.person_weight, args.entity_weight
    cw = torch.tensor([1.0, pw, pw, ew, ew, ew, ew, ew, ew])
    log(f"training: {n_batches} batches/epoch, {total_steps} steps")
    step, history = 0, []
    stop = False
    ep = 0
    while step < total_steps and not stop:
        ep += 1
        tl, tn = 0.0, 0
        for b in packed_batches():
            ids, mask, labs, L = tensorize(b)
            model.pos_offset = random.randint(0, 512 - L) if random.random() < 0.3 else 0
            logits = model(ids, mask)
            loss = F.cross_entropy(logits.reshape(-1, len(LABELS)), labs.reshape(-1), weight=cw, ignore_index=-100)
            opt.zero_grad(); loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); step += 1
            tl += loss.item(); tn += 1
            if step % 100 == 0:
                log(f"ep {ep} step {step}/{total_steps} loss {tl / tn:.4f} ({(time.time() - t_train) / 60:.1f} min)")
            if step >= total_steps:
                break
            if progress(step) >= 1.0:
                log("time budget reached; stopping"); stop = True; break
        model.pos_offset = 0
        r = {k: evaluate(model, v, wp, vocab_ids) for k, v in dev.items()}
        history.append({"epoch": ep, "step": step, "dev": r})
        log(f"epoch {ep} dev: " + json.dumps({k: {t: x["f1"] for t, x in v.items()} for k, v in r.items()}))
    train_minutes = (time.time() - t_train) / 60
    model.eval()
    torch.save(model.state_dict(), os.path.join(args.work, "ckpt.pt"))
    fp32_dev = {k: evaluate(model, v, wp, vocab_ids) for k, v in dev.items()}
    log("final dev fp32 " + json.dumps(fp32_dev))
    # int8 word-vector table (the largest tensor); keep it only if it costs no dev accuracy
    fp32_word = model.word
    model.word = QuantEmbedding(fp32_word.weight)
    final = {k: evaluate(model, v, wp, vocab_ids) for k, v in dev.items()}
    log("final dev int8-embedding " + json.dumps(final))
    f1s = lambda r: sum(x["ALL"]["f1"] for x in r.values())
    quantized = f1s(final) >= f1s(fp32_dev) - 0.002
    if not quantized:
        model.word = fp32_word; final = fp32_dev
        log("int8 embedding cost accuracy; exporting fp32")
    model.eval()
    # --- export
    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
    onnx_path = os.path.join(args.out, "onnx", "model.onnx")
    dummy = torch.tensor([[2, 10, 11, 12, 3], [2, 13, 3, 0, 0]], dtype=torch.long)
    dmask = (dummy > 0).long()
    torch.onnx.export(model, (dummy, dmask), onnx_path, input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}},
                      opset_version=14, do_constant_folding=True)
    write_tokenizer(args.out, vocab)
    cfg = {
        "architectures": ["BertForTokenClassification"], "model_type": "bert",
        "id2label": {str(i): l for i, l in enumerate(LABELS)}, "label2id": L2I, "num_labels": len(LABELS),
        "max_position_embeddings": 512, "vocab_size": len(vocab), "hidden_size": args.d, "num_hidden_layers": args.layers,
        "num_attention_heads": 4, "intermediate_size": args.ff, "pad_token_id": 0,
        "veil": {"version": args.version, "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "architecture": "veil-ner transformer encoder (word vectors + case shape + char CNN from id tables)",
                 "labels_scheme": "BIO; continuation pieces (##) are trained with I- of their word",
                 "address_convention": "a contiguous postal address (street line, unit, city, state, postcode) is one ADDRESS span; a city/region/country on its own is LOCATION",
                 "max_sequence_length": 512, "params": n_params, "seed": args.seed, "epochs_run": ep,
                 "train_minutes": round(train_minutes, 1), "int8_word_table": quantized, "dev_metrics": final},
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": False, "model_max_length": 512, "unk_token": "[UNK]",
                   "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
                   "tokenize_chinese_chars": True, "strip_accents": False, "clean_up_tokenization_spaces": True}, f, indent=2)
    # --- check data for scripts/ner/check.ts (torch logits vs onnxruntime; python ids vs transformers.js ids)
    samples = ["My name is Rose Hunter and I live at 42 Baker Street, London.",
               "hey will, can u send the bill to mark at acme corp?",
               "Patient Jürgen Müller-Lüdenscheidt was seen at St. Mary's Hospital in Zürich on 2024-03-01.",
               "张伟 visited 東京 with Олена Коваленко and محمد رضایی.",
               "The price went up in May. 😀 Contact: a.b@example.com\tTab\u00a0nbsp"]
    chk = []
    with torch.no_grad():
        for s in samples:
            ids = [2] + [i for w, _, _ in pretokenize(normalize(s)) for i in wp.encode_word(w)] + [3]
            t = torch.tensor([ids]); m = torch.ones_like(t)
            chk.append({"text": s, "ids": ids, "logits": model(t, m)[0].tolist()})
    with open(os.path.join(args.work, "check.json"), "w") as f:
        json.dump(chk, f, ensure_ascii=False)
    report = {"params": n_params, "vocab": len(vocab), "lower_rows": int(E.shape[0]), "vector_rows": hits, "chars": len(char_list),
              "train_sentences": {k: len(v) for k, v in train.items()}, "train_pieces": tot, "epochs": ep, "steps": step,
              "train_minutes": round(train_minutes, 1), "total_minutes": round((time.time() - t0) / 60, 1),
              "dev": final, "dev_fp32": fp32_dev, "int8_word_table": quantized, "history": history, "args": vars(args)}
    with open(os.path.join(args.work, "train_report.json"), "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    log("done", json.dumps({k: report[k] for k in ["params", "vocab", "epochs", "train_minutes", "total_minutes"]}))


def init_from_onnx(model, path, vocab):
    """Loads weights from a model.onnx written by this script. Named initializers map directly; the
    transposed Linear weights (onnx::MatMul_*) appear in graph order: proj, per layer qkv, o, f1, f2, cls."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    assert len(inits["lower_tab"]) == len(vocab), "vocabulary differs from the ONNX model's"
    assert np.array_equal(inits["lower_tab"], model.lower_tab.numpy()), "vocabulary differs from the ONNX model's"
    sd = model.state_dict()
    new = {}
    for k in sd:
        if k in inits and k not in ("lower_tab", "char_tab", "shape_tab"):
            new[k] = torch.from_numpy(inits[k].copy())
    if "word.q" in inits:
        new["word.weight"] = torch.from_numpy(inits["word.q"].astype(np.float32) * inits["word.scale"])
    else:
        new["word.weight"] = torch.from_numpy(inits["word.weight"].copy())
    mm = [n for n in inits if n.startswith("onnx::MatMul_")]
    mm.sort(key=lambda n: int(n.split("_")[-1]))
    names = ["proj.weight"] + [f"layers.{i}.{x}.weight" for i in range(len(model.layers)) for x in ("qkv", "o", "f1", "f2")] + ["cls.weight"]
    assert len(mm) == len(names), (len(mm), len(names))
    for n, k in zip(mm, names):
        w = torch.from_numpy(inits[n].T.copy())
        assert w.shape == sd[k].shape, (n, k, w.shape, sd[k].shape)
        new[k] = w
    missing = [k for k in sd if k not in new and k not in ("lower_tab", "char_tab", "shape_tab")]
    assert not missing, missing
    model.load_state_dict(new, strict=False)


def write_tokenizer(out, vocab):
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
             for i, t in enumerate(SPECIALS)]
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": False, "lowercase": False},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                  "vocab": {t: i for i, t in enumerate(vocab)}},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
