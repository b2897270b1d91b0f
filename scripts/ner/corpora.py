"""Loaders for the openly licensed corpora added to ../shared/ner-data on 2026-12-02.

Contract: every loader returns a list of (words, BIO labels) over Veil's label set (PERSON, LOCATION,
ORGANIZATION, ADDRESS), with the label mismatches of each source fixed as its SOURCE.txt warns:
- UNER English-EWT train / UNER PUD: IOB2 as in the dev file; stray `B-O` tags become O.
- CrossNER: fine domain types mapped to PER/LOC/ORG (misc, works, events, ... become O).
- re3d: Person/Organisation/Location only (Nationality, Temporal, Weapon, ... become O). Its spans include
  common-noun phrases ("government officials") and job titles, so train.sh leaves it out.
- SEC filings: IO tags; the contract roles "Borrower"/"Lender" (tagged PER) become O; MISC dropped.
- LitBank: only proper-name mentions (PROP_PER / PROP_GPE / PROP_LOC / PROP_FAC / PROP_ORG) from
  coref/brat, titles (Mr., Mrs., Dr., ...) left outside the PERSON span.
- GUM: only mentions whose words are proper nouns (a leading determiner is dropped), person/place/
  organization types; pronouns and common-noun mentions are O.
- Enron e-mails (emailcoref): capitalised non-pronoun mentions; e-mail addresses are left to the
  pattern detectors (O); a location mention with a digit is an ADDRESS.
- ASQ-PHI: NAME values located in the text -> PERSON; GEOGRAPHIC_LOCATION -> ORGANIZATION when it
  names a care facility, otherwise LOCATION; dates and numbers are O (patterns find them).
- Snips: city/state/country/geographic_poi -> LOCATION, restaurant_name -> ORGANIZATION, first names in
  party_size_description -> PERSON; queries with slots that may hold unlabelled names (artist,
  playlist owner, poi, titles of works) are skipped; mojibake repaired.
Nothing here reads an evaluation split (UNER EWT test, WNUT-17 test, BTC h, Presidio synth set).
"""
import glob, json, os, random, re

from veil_tok import normalize, pretokenize, pretokenize_with_offsets

TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "madame", "mme", "monsieur", "mlle", "herr", "frau",
          "lady", "lord", "captain", "capt", "colonel", "col", "major", "general", "gen", "rev", "father", "mister",
          "uncle", "aunt", "aunty", "st", "saint"}
PRONOUNS = {"i", "you", "we", "he", "she", "it", "they", "me", "him", "her", "us", "them", "my", "your", "our", "his",
            "their", "its", "mine", "yours", "ours", "theirs", "myself", "yourself", "ourselves", "this", "that", "these",
            "those", "the", "a", "an", "who", "whom", "which", "all", "everyone", "anyone", "someone", "both", "each"}


def conll_sents(path, tok_col, tag_col, sep=None, skip_comments=False, skip_docstart=True):
    sents, toks, tags = [], [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            if skip_comments and line.startswith("#"):
                continue
            if skip_docstart and line.startswith("-DOCSTART-"):
                continue
            if not line.strip():
                if toks:
                    sents.append((toks, tags)); toks, tags = [], []
                continue
            parts = line.split(sep) if sep else (line.split("\t") if "\t" in line else line.split(" "))
            if len(parts) <= max(tok_col, tag_col):
                continue
            toks.append(parts[tok_col]); tags.append(parts[tag_col])
    if toks:
        sents.append((toks, tags))
    return sents


def to_bio(tags, type_map):
    """Source tags (IOB1/IOB2/IO, any type names) -> Veil BIO; unmapped types -> O."""
    bio, prev = [], "O"
    for t in tags:
        if t == "O" or "-" not in t:
            bio.append("O"); prev = "O"; continue
        p, ty = t.split("-", 1)
        ty = type_map.get(ty)
        if ty is None:
            bio.append("O"); prev = "O"; continue
        bio.append(("B-" if p == "B" or prev != ty else "I-") + ty)
        prev = ty
    return bio


def spans_of_bio(bio):
    out, cur = [], None
    for i, t in enumerate(list(bio) + ["O"]):
        if t.startswith("I-") and cur and cur[2] == t[2:]:
            continue
        if cur:
            out.append((cur[0], i, cur[2])); cur = None
        if t != "O":
            cur = [i, None, t[2:]]
    return out


def label_tokens(n, spans):
    """spans: (start, end, type) over token indices, longest first wins on overlap."""
    lab = ["O"] * n
    for s, e, ty in sorted(spans, key=lambda x: -(x[1] - x[0])):
        if s >= e or any(lab[k] != "O" for k in range(s, e)):
            continue
        lab[s] = "B-" + ty
        for k in range(s + 1, e):
            lab[k] = "I-" + ty
    return lab


def text_spans_to_words(text, spans):
    """Character spans -> (words, BIO) with the BERT pre-tokenizer (as read_synth)."""
    words, labels, prev = [], [], None
    for w, s, e in pretokenize_with_offsets(text):
        lab, cur = "O", None
        for k, (ss, se, ty) in enumerate(spans):
            if s >= ss and e <= se:
                cur = k; lab = ("I-" if prev == k else "B-") + ty
                break
        prev = cur
        words.append(w); labels.append(lab)
    return words, labels


UNER_MAP = {"PER": "PERSON", "LOC": "LOCATION", "ORG": "ORGANIZATION"}


def load_uner(path):
    return [(t, to_bio(g, UNER_MAP)) for t, g in conll_sents(path, 1, 2, sep="\t", skip_comments=True)]


CROSSNER_MAP = {"person": "PERSON", "researcher": "PERSON", "writer": "PERSON", "musicalartist": "PERSON",
                "politician": "PERSON", "scientist": "PERSON", "location": "LOCATION", "country": "LOCATION",
                "organisation": "ORGANIZATION", "university": "ORGANIZATION", "politicalparty": "ORGANIZATION",
                "band": "ORGANIZATION"}


def load_crossner(d):
    out = []
    for dom in ["ai", "literature", "music", "politics", "science"]:
        for split in ["train", "dev"]:
            p = os.path.join(d, "ner_data", dom, split + ".txt")
            if os.path.exists(p):
                out += [(t, to_bio(g, CROSSNER_MAP)) for t, g in conll_sents(p, 0, 1)]
    return out


RE3D_MAP = {"Person": "PERSON", "Organisation": "ORGANIZATION", "Location": "LOCATION"}


def load_re3d(d):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "juand-r", "data", "re3d", "CONLL-format", "data-by-source", "conll", "*", "*.conll"))):
        out += [(t, to_bio(g, RE3D_MAP)) for t, g in conll_sents(p, 0, 1)]
    return out


ROLE_WORDS = {"borrower", "borrowers", "lender", "lenders", "the", "each", "such"}


def load_sec(d):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "data", "SEC-filings", "CONLL-format", "data", "*", "*.txt"))):
        for t, g in conll_sents(p, 0, 3, sep=" "):
            bio = to_bio(g, UNER_MAP)
            for s, e, ty in spans_of_bio(bio):
                if all(w.lower() in ROLE_WORDS for w in t[s:e]):
                    for k in range(s, e):
                        bio[k] = "O"
            out.append((t, bio))
    return out


LITBANK_MAP = {"PROP_PER": "PERSON", "PROP_GPE": "LOCATION", "PROP_LOC": "LOCATION", "PROP_FAC": "LOCATION",
               "PROP_ORG": "ORGANIZATION"}


def strip_titles(toks, s, e, ty):
    if ty == "PERSON":
        while s < e - 1 and toks[s].lower().rstrip(".") in TITLES:
            s += 1
            if s < e - 1 and toks[s] == ".":
                s += 1
    return s, e


def load_litbank(d, keep_empty=0.3, seed=0):
    rng = random.Random(seed)
    out = []
    for ann in sorted(glob.glob(os.path.join(d, "coref", "brat", "*.ann"))):
        txt = open(ann[:-4] + ".txt", encoding="utf-8").read()
        ments = []
        for line in open(ann, encoding="utf-8"):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[0].startswith("T"):
                continue
            bits = parts[1].split()
            if bits[0] in LITBANK_MAP and len(bits) == 3:
                ments.append((int(bits[1]), int(bits[2]), LITBANK_MAP[bits[0]]))
        pos = 0
        for line in txt.split("\n"):
            start, end = pos, pos + len(line)
            pos = end + 1
            toks, offs, o = [], [], start
            for tok in line.split(" "):
                if tok:
                    toks.append(tok); offs.append((o, o + len(tok)))
                o += len(tok) + 1
            if not toks:
                continue
            sp = []
            for ms, me, ty in ments:
                if ms >= start and me <= end:
                    ti = [k for k, (a, b) in enumerate(offs) if a >= ms and b <= me]
                    if ti:
                        s, e = strip_titles(toks, ti[0], ti[-1] + 1, ty)
                        sp.append((s, e, ty))
            if not sp and rng.random() > keep_empty:
                continue
            out.append((toks, label_tokens(len(toks), sp)))
    return out


GUM_MAP = {"person": "PERSON", "place": "LOCATION", "organization": "ORGANIZATION"}
ENT_RE = re.compile(r"\((\d+)-([a-z]+)[^()|]*?(\))?(?=\(|\d+\)|$)|(\d+)\)")


def load_gum(d):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "dep", "*.conllu"))):
        toks, upos, open_, spans = [], [], {}, []

        def flush():
            if toks:
                sp = []
                for s, e, ty in spans:
                    while s < e and upos[s] == "DET":
                        s += 1
                    if s >= e:
                        continue
                    inner = upos[s:e]
                    if inner[0] != "PROPN" or inner[-1] != "PROPN":
                        continue
                    if not all(u in ("PROPN", "ADP", "PUNCT", "CCONJ", "PART", "NUM") for u in inner):
                        continue
                    s, e = strip_titles(toks, s, e, ty)
                    sp.append((s, e, ty))
                out.append((list(toks), label_tokens(len(toks), sp)))

        for line in open(p, encoding="utf-8"):
            line = line.rstrip("\n")
            if not line:
                flush(); toks, upos, open_, spans = [], [], {}, []; continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 10 or "-" in cols[0] or "." in cols[0]:
                continue
            i = len(toks)
            toks.append(cols[1]); upos.append(cols[3])
            ent = next((m[7:] for m in cols[9].split("|") if m.startswith("Entity=")), "")
            for m in ENT_RE.finditer(ent):
                if m.group(1):
                    eid, ety = m.group(1), m.group(2)
                    if m.group(3):
                        if ety in GUM_MAP:
                            spans.append((i, i + 1, GUM_MAP[ety]))
                    else:
                        open_.setdefault(eid, []).append((i, ety))
                elif m.group(4):
                    st = open_.get(m.group(4))
                    if st:
                        s, ety = st.pop()
                        if ety in GUM_MAP:
                            spans.append((s, i + 1, GUM_MAP[ety]))
        flush()
    return out


EMAIL_TYPES = {"P": "PERSON", "O": "ORGANIZATION", "L": "LOCATION"}
MENT_OPEN = re.compile(r"\(([A-Z])(\d+)\*?")
MENT_CLOSE = re.compile(r"([A-Z])(\d+)\*?\)")


def load_enron(d):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "data", "LREC", "*", "*.conll"))):
        toks, spans, open_ = [], [], {}

        def flush():
            if toks:
                sp = []
                for s, e, ty in spans:
                    words = toks[s:e]
                    if any("@" in w for w in words):
                        continue
                    if words[0].lower() in PRONOUNS or not (words[0][:1].isupper() or (ty == "LOCATION" and words[0][:1].isdigit())):
                        continue
                    if ty == "LOCATION" and any(c.isdigit() for w in words for c in w):
                        if len(words) < 3:  # a floor or room number ("on 32", "EB 3947") is not a postal address
                            continue
                        ty = "ADDRESS"
                    elif any(c.isdigit() for w in words for c in w):
                        continue
                    s2, e2 = strip_titles(toks, s, e, ty)
                    sp.append((s2, e2, ty))
                out.append((list(toks), label_tokens(len(toks), sp)))

        for line in open(p, encoding="utf-8", errors="replace"):
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                flush(); toks, spans, open_ = [], [], {}; continue
            cols = line.split("\t")
            if len(cols) < 3:
                continue
            i = len(toks)
            toks.append(cols[0])
            c = cols[2]
            for m in MENT_OPEN.finditer(c):
                open_.setdefault(m.group(1) + m.group(2), []).append(i)
            for m in MENT_CLOSE.finditer(c):
                st = open_.get(m.group(1) + m.group(2))
                if st:
                    s = st.pop()
                    if m.group(1) in EMAIL_TYPES:
                        spans.append((s, i + 1, EMAIL_TYPES[m.group(1)]))
        flush()
    return out


FACILITY = re.compile(r"hospital|clinic|cent(er|re)|medical|health|infirmary|institute|university|college|"
                      r"\bst\.?\s|\bmt\.?\s|mount |memorial|mayo|kaiser|children|practice|ward|unit|hopkins|sinai|"
                      r"general|regional|care", re.I)


def load_asq_phi(d):
    raw = open(os.path.join(d, "data", "synthetic_clinical_queries.txt"), encoding="utf-8").read()
    out = []
    for block in raw.split("===QUERY===")[1:]:
        if "===PHI_TAGS===" not in block:
            continue
        q, tags = block.split("===PHI_TAGS===", 1)
        text = q.strip()
        spans = []
        for line in tags.strip().splitlines():
            try:
                t = json.loads(line)
            except ValueError:
                continue
            v = str(t.get("value", "")).strip()
            it = t.get("identifier_type")
            if not v:
                continue
            if it == "NAME":
                ty = "PERSON"
                m = re.match(r"(?:(?:Dr|Mr|Mrs|Ms|Miss|Prof|Doctor)\.?\s+)+", v)
                if m and m.end() < len(v):
                    v = v[m.end():]
            elif it == "GEOGRAPHIC_LOCATION":
                ty = "ORGANIZATION" if FACILITY.search(v) else "LOCATION"
            else:
                continue
            k = text.find(v)
            while k >= 0:
                spans.append((k, k + len(v), ty))
                k = text.find(v, k + len(v))
        out.append(text_spans_to_words(text, spans))
    return out


SNIPS_MAP = {"city": "LOCATION", "state": "LOCATION", "country": "LOCATION", "geographic_poi": "LOCATION",
             "restaurant_name": "ORGANIZATION"}
SNIPS_SAFE = {"cuisine", "facility", "party_size_number", "restaurant_type", "served_dish", "sort", "spatial_relation",
              "timeRange", "condition_description", "condition_temperature", "current_location", "party_size_description"}
PARTY_STOP = {"me", "my", "i", "myself", "our", "his", "her", "their", "the", "a", "an", "we", "us", "friend", "friends",
              "family", "kids", "wife", "husband", "mom", "dad", "mother", "father", "son", "daughter", "sister", "brother",
              "aunt", "uncle", "grandkid", "grandkids", "colleagues", "team", "guests", "people", "someone", "cousin",
              "cousins", "niece", "nephew", "boyfriend", "girlfriend", "partner", "baby", "children", "grandmother",
              "grandfather", "grandma", "grandpa", "parents", "in-laws", "coworker", "coworkers", "boss", "and"}


def fix_mojibake(s):
    if "Ã" in s or "Â" in s:
        try:
            return s.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return s
    return s


def load_snips(d, limit=4000, seed=0):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "2017-06-custom-intent-engines", "*", "train_*_full.json"))):
        with open(p, encoding="latin-1") as f:
            data = json.load(f)
        for _intent, qs in data.items():
            for q in qs:
                parts = q["data"]
                if any("entity" in x and x["entity"] not in SNIPS_MAP and x["entity"] not in SNIPS_SAFE for x in parts):
                    continue
                text, spans = "", []
                for x in parts:
                    t = fix_mojibake(x["text"])
                    ent = x.get("entity")
                    if ent in SNIPS_MAP:
                        spans.append((len(text), len(text) + len(t), SNIPS_MAP[ent]))
                    elif ent == "party_size_description":
                        for m in re.finditer(r"[^,&]+", t):
                            for seg in re.split(r"\band\b", m.group(0)):
                                ws = seg.split()
                                if ws and len(ws) <= 3 and all(w.isalpha() and w.lower() not in PARTY_STOP for w in ws):
                                    a = len(text) + m.start() + m.group(0).find(seg) + (len(seg) - len(seg.lstrip()))
                                    spans.append((a, a + len(seg.strip()), "PERSON"))
                    text += t
                if text.strip():
                    out.append((text, spans))
    rng = random.Random(seed)
    with_ent = [x for x in out if x[1]]
    without = [x for x in out if not x[1]]
    rng.shuffle(with_ent); rng.shuffle(without)
    chosen = (with_ent + without)[:limit]
    return [text_spans_to_words(t, s) for t, s in chosen]


def load_all(D, seed=0):
    """All added corpora by name; a missing folder is skipped with a note."""
    loaders = {
        "uner_ewt_train": lambda: load_uner(os.path.join(D, "uner_english_ewt_train", "en_ewt-ud-train.iob2")),
        "uner_pud": lambda: load_uner(os.path.join(D, "uner_english_pud", "en_pud-ud-test.iob2")),
        "crossner": lambda: load_crossner(os.path.join(D, "crossner")),
        "re3d": lambda: load_re3d(os.path.join(D, "re3d")),
        "sec_filings": lambda: load_sec(os.path.join(D, "sec_filings")),
        "litbank": lambda: load_litbank(os.path.join(D, "litbank"), seed=seed),
        "gum": lambda: load_gum(os.path.join(D, "gum")),
        "enron": lambda: load_enron(os.path.join(D, "emailcoref_enron")),
        "asq_phi": lambda: load_asq_phi(os.path.join(D, "asq_phi")),
        "snips": lambda: load_snips(os.path.join(D, "snips_nlu_benchmark"), seed=seed),
    }
    res = {}
    for k, fn in loaders.items():
        try:
            res[k] = fn()
        except FileNotFoundError as e:
            print(f"corpora: {k} skipped ({e.filename} missing)", flush=True)
    return res


if __name__ == "__main__":  # summary + a few labelled examples per corpus
    import sys
    from collections import Counter
    D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "ner-data")
    for k, v in load_all(D).items():
        c = Counter(t[2:] for _, ls in v for t in ls if t.startswith("B-"))
        print(k, len(v), "sentences", dict(c))
        rng = random.Random(1)
        for ws, ls in rng.sample(v, min(3, len(v))):
            print("   ", " ".join(f"[{w}]{l[2:5]}" if l != "O" else w for w, l in zip(ws, ls))[:300])
