/**
 * Nesting depth of JSON text, measured by one iterative scan (no recursion, no parse): used to
 * refuse deeply nested bodies before anything recursive (structuredClone, JSON.stringify, tree
 * walks) could overflow the stack. Linear in the text; pure; Workers-safe.
 */

/**
 * True when `text` nests arrays/objects deeper than `max` (brackets inside strings do not
 * count). Malformed JSON is measured as far as it goes; JSON.parse reports the rest.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}
