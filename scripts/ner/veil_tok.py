"""Python twin of the tokenizer described by models/veil-ner/tokenizer.json.

Mirrors @huggingface/transformers' BertNormalizer(clean_text, handle_chinese_chars, no lowercase,
no accent stripping) + BertPreTokenizer + WordPiece(greedy longest match, "##", max 100 chars),
so that training sees exactly the ids the runtime produces. scripts/ner/check.ts verifies the
match against transformers.js on sample texts.
"""
import unicodedata

_JS_SPACE = set("\t\n\x0b\x0c\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {chr(c) for c in range(0x2000, 0x200B)}


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_chinese_cp(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def normalize(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if ch in _JS_SPACE:
            out.append(" ")
        elif cp < 0x10000 and is_chinese_cp(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    return "".join(out)


def pretokenize(text):
    """Returns list of (token, start, end) over the NORMALIZED text (== original text when the
    text has no control chars / CJK; callers that need offsets use pretokenize_with_offsets)."""
    toks = []
    cur = []
    start = 0
    for i, ch in enumerate(text):
        if ch in _JS_SPACE:
            if cur:
                toks.append(("".join(cur), start, i)); cur = []
        elif is_punct(ch):
            if cur:
                toks.append(("".join(cur), start, i)); cur = []
            toks.append((ch, i, i + 1))
        else:
            if not cur:
                start = i
            cur.append(ch)
    if cur:
        toks.append(("".join(cur), start, len(text)))
    return toks


def pretokenize_with_offsets(text):
    """Pre-tokens with offsets into the ORIGINAL text (normalization applied per character)."""
    toks = []
    cur = []
    start = 0
    for i, ch in enumerate(text):
        cp = ord(ch)
        dropped = cp == 0 or cp == 0xFFFD or _is_control(ch)
        if dropped:
            continue
        if ch in _JS_SPACE:
            if cur:
                toks.append(("".join(cur), start, i)); cur = []
        elif is_punct(ch) or (cp < 0x10000 and is_chinese_cp(cp)):
            if cur:
                toks.append(("".join(cur), start, i)); cur = []
            toks.append((ch, i, i + 1))
        else:
            if not cur:
                start = i
            cur.append(ch)
    if cur:
        toks.append(("".join(cur), start, len(text)))
    return toks


class WordPiece:
    def __init__(self, vocab):
        self.vocab = vocab  # token -> id
        self.unk = vocab["[UNK]"]
        self.cache = {}

    def encode_word(self, word):
        r = self.cache.get(word)
        if r is not None:
            return r
        chars = list(word)
        if len(chars) > 100:
            r = [self.unk]
        else:
            out = []
            start = 0
            while start < len(chars):
                end = len(chars)
                cur = None
                while start < end:
                    s = "".join(chars[start:end])
                    if start > 0:
                        s = "##" + s
                    if s in self.vocab:
                        cur = self.vocab[s]
                        break
                    end -= 1
                if cur is None:
                    out = [self.unk]
                    break
                out.append(cur)
                start = end
            r = out
        if len(self.cache) < 2_000_000:
            self.cache[word] = r
        return r
