"""Error analysis on a DEV set for an exported model (never point it at a test split).

Usage: /usr/bin/python3 scripts/ner/analyze.py models/veil-ner/onnx/model.onnx [uner|btc] [n=40]
Rebuilds the vocabulary from the same data (scripts/ner/out/synth.jsonl must be the file used in
training), loads the ONNX weights into the torch model and prints P/R per type plus the first n
sentences with errors (gold vs predicted spans).
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402
import numpy as np, torch  # noqa: E402
from collections import Counter  # noqa: E402

onnx_path = sys.argv[1]
which = sys.argv[2] if len(sys.argv) > 2 else "uner"
n_show = int(sys.argv[3]) if len(sys.argv) > 3 else 40
D = os.environ.get("NER_DATA_DIR", os.path.join(T.ROOT, "..", "shared", "ner-data"))
import json  # noqa: E402
tok = json.load(open(os.path.join(os.path.dirname(os.path.dirname(onnx_path)), "tokenizer.json")))["model"]["vocab"]
vocab = sorted(tok, key=lambda t: tok[t])
vocab_ids = {t: i for i, t in enumerate(vocab)}
wp = T.WordPiece(vocab_ids)
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(onnx_path).graph.initializer}
n_lower = inits["word.q"].shape[0] if "word.q" in inits else inits["word.weight"].shape[0]
E = np.zeros((n_lower, 100), dtype=np.float32)
n_chars = inits["char.weight"].shape[0] - 2
d = inits["pos.weight"].shape[1]
ff = inits["layers.0.f1.bias"].shape[0]
layers = len([k for k in inits if k.endswith(".qkv.bias")])
model = T.VeilNER(inits["lower_tab"].astype(np.int64), E, np.zeros(n_lower, dtype=np.float32), inits["char_tab"].astype(np.int64),
                  inits["shape_tab"].astype(np.int64), n_chars, d=d, layers=layers, ff=ff)
T.init_from_onnx(model, onnx_path, vocab)
model.eval()
if which == "uner":
    data = T.read_conll(os.path.join(D, "uner-en-ewt", "en_ewt-ud-dev.iob2"), skip_comments=True)
    data = data[int(len(data) * 0.75):]
else:
    data = T.read_conll(os.path.join(D, "btc", "h.conll"))
data = [T.split_tokens(s) for s in data]
print(json.dumps(T.evaluate(model, data, wp, vocab_ids)))
shown = 0
errs = Counter()
with torch.no_grad():
    for words, gold in data:
        ids, _, first = T.encode(words, gold, wp, vocab_ids)
        x = torch.tensor([[2] + ids + [3]])
        p = model(x, torch.ones_like(x)).argmax(-1)[0, 1:-1].tolist()
        pt = [T.LABELS[p[k]] for k in range(len(p)) if first[k]]
        g, s = T.spans_of(list(gold)), T.spans_of(pt)
        for a in g - s:
            errs["miss " + a[2]] += 1
        for a in s - g:
            errs["false " + a[2]] += 1
        if g != s and shown < n_show:
            shown += 1
            fmt = lambda sp: sorted((" ".join(words[a:b]), t) for a, b, t in sp)  # noqa: E731
            print("-", " ".join(words)[:200])
            print("   gold:", fmt(g - s), " pred:", fmt(s - g))
print(errs)
