"""Checks of the label fixes in corpora.py on small hand-written files in each source's format
(no shared data needed). Run: /usr/bin/python3 scripts/ner/test_corpora.py  (train.sh runs it first)."""
import json, os, sys, tempfile, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpora  # noqa: E402


def write(root, rel, text, enc="utf-8"):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w", encoding=enc) as f:
        f.write(text)
    return p


def spans(words, labels):
    return [(" ".join(words[s:e]), ty) for s, e, ty in corpora.spans_of_bio(labels)]


class Loaders(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_uner_stray_b_o_and_types(self):
        p = write(self.d, "u.iob2", "# sent_id = x\n# text = Ada Quist met Olek in Tarnow .\n"
                  "1\tAda\tB-PER\t-\t-\n2\tQuist\tI-PER\t-\t-\n3\tmet\tB-O\t-\t-\n4\tOlek\tB-PER\t-\t-\n"
                  "5\tin\tO\t-\t-\n6\tTarnow\tB-LOC\t-\t-\n7\t.\tO\t-\t-\n\n")
        (w, l), = corpora.load_uner(p)
        self.assertEqual(spans(w, l), [("Ada Quist", "PERSON"), ("Olek", "PERSON"), ("Tarnow", "LOCATION")])

    def test_sec_roles_become_o_and_io_tags_become_bio(self):
        write(self.d, "sec/data/SEC-filings/CONLL-format/data/train/X.txt",
              "-DOCSTART- -X- O O\n\nThe DT - O\nBorrower NNP - I-PER\nand CC - O\nJane NNP - I-PER\nRoe NNP - I-PER\n"
              "of IN - O\nAcme NNP - I-ORG\nCorp NNP - I-ORG\nsigned VBD - O\n\n")
        (w, l), = corpora.load_sec(os.path.join(self.d, "sec"))
        self.assertEqual(spans(w, l), [("Jane Roe", "PERSON"), ("Acme Corp", "ORGANIZATION")])

    def test_crossner_fine_types(self):
        write(self.d, "cx/ner_data/music/train.txt", "Pia\tB-musicalartist\nLund\tI-musicalartist\nsang\tO\nHeyday\tB-song\n"
              "in\tO\nOslo\tB-location\nfor\tO\nNorBand\tB-band\n\n")
        (w, l), = corpora.load_crossner(os.path.join(self.d, "cx"))
        self.assertEqual(spans(w, l), [("Pia Lund", "PERSON"), ("Oslo", "LOCATION"), ("NorBand", "ORGANIZATION")])

    def test_litbank_proper_names_only_titles_outside(self):
        txt = "Mr. Tobin walked to Elmbury with his sister .\nNothing happened .\n"
        write(self.d, "lb/coref/brat/1_x_brat.txt", txt)
        a = txt.index("Mr."); b = txt.index("Tobin") + 5; c = txt.index("Elmbury"); s = txt.index("his sister")
        write(self.d, "lb/coref/brat/1_x_brat.ann", f"T1\tPROP_PER {a} {b}\tMr. Tobin\nT2\tPROP_GPE {c} {c + 7}\tElmbury\n"
              f"T3\tNOM_PER {s} {s + 10}\this sister\n")
        out = corpora.load_litbank(os.path.join(self.d, "lb"), keep_empty=1.0)
        self.assertEqual(spans(*out[0]), [("Tobin", "PERSON"), ("Elmbury", "LOCATION")])
        self.assertEqual(spans(*out[1]), [])

    def test_gum_keeps_proper_noun_mentions(self):
        rows = [("1", "She", "PRON", "Entity=(1-person-giv-s-cf1-1-sgl)"), ("2", "met", "VERB", "_"),
                ("3", "the", "DET", "Entity=(2-person-new-s-cf2-3-sgl"), ("4", "mayor", "NOUN", "Entity=2)"),
                ("5", "Ivo", "PROPN", "Entity=(3-person-new-s-cf3-5-sgl"), ("6", "Brandt", "PROPN", "Entity=3)"),
                ("7", "in", "ADP", "_"), ("8", "the", "DET", "Entity=(4-place-new-s-cf4-9-sgl"),
                ("9", "Hague", "PROPN", "Entity=4)")]
        body = "# sent_id = x\n" + "".join(f"{i}\t{w}\t_\t{u}\t_\t_\t0\t_\t_\t{m}\n" for i, w, u, m in rows) + "\n"
        write(self.d, "gum/dep/GUM_news_x.conllu", body)
        (w, l), = corpora.load_gum(os.path.join(self.d, "gum"))
        self.assertEqual(spans(w, l), [("Ivo Brandt", "PERSON"), ("Hague", "LOCATION")])

    def test_enron_drops_addresses_and_pronouns(self):
        lines = ["From\tA\t-\t-", ":\tA\t-\t-", "lena.roe@example.com\tA\t(P0*)\t(0)", "", "Hi\tA\t-\t-", "Lena\tA\t(P0*)\t(0)",
                 ",\tA\t-\t-", "I\tA\t(P1*)\t(1)", "moved\tA\t-\t-", "to\tA\t-\t-", "12\tA\t(L2*\t(2", "Elm\tA\tL2*\t2",
                 "Road\tA\tL2*)\t2)", "at\tA\t-\t-", "Nordco\tA\t(O3*)\t(3)", ""]
        write(self.d, "en/data/LREC/train/t.conll", "#begin document (x)\n" + "\n".join(lines) + "\n")
        out = corpora.load_enron(os.path.join(self.d, "en"))
        self.assertEqual(spans(*out[0]), [])
        self.assertEqual(spans(*out[1]), [("Lena", "PERSON"), ("12 Elm Road", "ADDRESS"), ("Nordco", "ORGANIZATION")])

    def test_asq_phi_locates_values_strips_titles(self):
        q = ("===QUERY===\nDose for Dr. Omar Haddad's patient seen at Lakeside Clinic in Duluth on May 2?\n===PHI_TAGS===\n"
             + "\n".join(json.dumps(x) for x in [{"identifier_type": "NAME", "value": "Dr. Omar Haddad"},
                                                  {"identifier_type": "GEOGRAPHIC_LOCATION", "value": "Lakeside Clinic"},
                                                  {"identifier_type": "GEOGRAPHIC_LOCATION", "value": "Duluth"},
                                                  {"identifier_type": "DATE", "value": "May 2"}]) + "\n")
        write(self.d, "aq/data/synthetic_clinical_queries.txt", q)
        (w, l), = corpora.load_asq_phi(os.path.join(self.d, "aq"))
        self.assertEqual(spans(w, l), [("Omar Haddad", "PERSON"), ("Lakeside Clinic", "ORGANIZATION"), ("Duluth", "LOCATION")])

    def test_snips_party_names_mojibake_and_skipped_queries(self):
        data = {"BookRestaurant": [
            {"data": [{"text": "book a table for "}, {"text": "me, tia and nora", "entity": "party_size_description"},
                      {"text": " in "}, {"text": "MÃ¡laga", "entity": "city"}]},
            {"data": [{"text": "play "}, {"text": "Rex Hale", "entity": "artist"}]}]}
        write(self.d, "sn/2017-06-custom-intent-engines/BookRestaurant/train_BookRestaurant_full.json",
              json.dumps(data, ensure_ascii=False), enc="latin-1")
        out = corpora.load_snips(os.path.join(self.d, "sn"))
        self.assertEqual(len(out), 1)  # the query with an unlabelled artist name is skipped
        self.assertEqual(spans(*out[0]), [("tia", "PERSON"), ("nora", "PERSON"), ("Málaga", "LOCATION")])


if __name__ == "__main__":
    unittest.main()
