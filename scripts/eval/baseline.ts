/** The baseline to beat: compromise's lexicon tagger (people / places / organizations). */
import nlp from 'compromise';
import type { PredSpan } from './metrics.js';

interface Match {
  text: string;
  offset: { start: number; length: number };
}

export function compromiseSpans(text: string): PredSpan[] {
  const doc = nlp(text);
  const out: PredSpan[] = [];
  const add = (list: Match[], type: string) => {
    for (const m of list) {
      let s = m.offset.start;
      let e = s + m.offset.length;
      // compromise keeps trailing punctuation ("Corp.", "Berlin,"): trim it like the model does
      while (e > s && /[\s.,;:!?"')]/.test(text[e - 1]!)) e--;
      while (s < e && /[\s"'(]/.test(text[s]!)) s++;
      if (e > s) out.push({ start: s, end: e, type });
    }
  };
  add(doc.people().json({ offset: true }) as Match[], 'PERSON');
  add(doc.places().json({ offset: true }) as Match[], 'LOCATION');
  add(doc.organizations().json({ offset: true }) as Match[], 'ORGANIZATION');
  return out.sort((a, b) => a.start - b.start);
}
