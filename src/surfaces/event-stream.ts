/**
 * The shared half of the named-event surfaces (`event: name` + `data: {json}`: the OpenAI
 * Responses API and Anthropic Messages), plugged into the one stream driver
 * (src/restore/stream.ts `restoreEventStream`). A surface keeps one streaming restorer per
 * delta family and part it has seen (`held`, keyed by the surface), says how held text is
 * released as one more delta event, and handles its own parsed events; non-JSON events are
 * restored as text and non-object JSON leaf by leaf here. Nothing grows with the stream except
 * what is held.
 */
import type { VeilError } from '../core/errors.js';
import { restoreLeaves } from '../restore/response.js';
import type { Restorer, StreamRestorer } from '../restore/restorer.js';
import type { EventRestorer, OutEvent } from '../restore/stream.js';

export { isObj, restoreLeaves } from '../restore/response.js';
export type { OutEvent } from '../restore/stream.js';

type Obj = Record<string, unknown>;

export abstract class NamedEventRestorer<H extends { readonly r: StreamRestorer }> implements EventRestorer {
  protected readonly held = new Map<string, H>();
  complete = false;

  constructor(protected readonly restorer: Restorer) {}

  /** The delta event carrying `rest`, the text `h` held back. */
  protected abstract released(h: H, rest: string): OutEvent;
  /** One upstream event that parsed as a JSON object. */
  protected abstract object(name: string | null, ev: Obj, data: string): OutEvent[];
  abstract failure(err: VeilError): OutEvent;

  /** Releases (and forgets) the held states whose key passes `which`. */
  protected release(which: (key: string) => boolean): OutEvent[] {
    const out: OutEvent[] = [];
    for (const [k, h] of this.held) {
      if (!which(k)) continue;
      this.held.delete(k);
      const rest = h.r.flush();
      if (rest.length > 0) out.push(this.released(h, rest));
    }
    return out;
  }

  event(name: string | null, data: string): OutEvent[] {
    let ev: unknown;
    try {
      ev = JSON.parse(data);
    } catch {
      return [{ event: name, data: this.restorer.restore(data) }];
    }
    if (typeof ev === 'object' && ev !== null && !Array.isArray(ev)) return this.object(name, ev as Obj, data);
    const holder = { v: ev };
    return [{ event: name, data: restoreLeaves(holder, this.restorer) ? JSON.stringify(holder.v) : data }];
  }

  end(): OutEvent[] {
    return this.release(() => true);
  }
}
