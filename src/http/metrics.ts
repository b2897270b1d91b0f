/**
 * Prometheus-style counters and histograms, in memory, per process. Labels are paths, status
 * codes, entity types and outcomes only — never values.
 */
import type { EntityType } from '../core/types.js';

export interface Metrics {
  observeRequest(path: string, status: number, ms: number): void;
  observeSanitize(ms: number, counts: Partial<Record<EntityType, number>>): void;
  observeStream(outcome: string): void;
  render(): string;
}

const BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

class Histogram {
  readonly counts = new Array<number>(BUCKETS_MS.length + 1).fill(0);
  sum = 0;
  n = 0;
  observe(v: number) {
    this.sum += v;
    this.n++;
    let i = 0;
    while (i < BUCKETS_MS.length && v > BUCKETS_MS[i]!) i++;
    this.counts[i]!++;
  }
  render(name: string, labels: string): string[] {
    const out: string[] = [];
    let cum = 0;
    const sep = labels ? ',' : '';
    BUCKETS_MS.forEach((b, i) => {
      cum += this.counts[i]!;
      out.push(`${name}_bucket{${labels}${sep}le="${b}"} ${cum}`);
    });
    cum += this.counts[BUCKETS_MS.length]!;
    out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${cum}`);
    out.push(`${name}_sum{${labels}} ${this.sum}`, `${name}_count{${labels}} ${this.n}`);
    return out;
  }
}

const KNOWN_PATHS = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses', '/v1/messages', '/v1/messages/count_tokens', '/v1/models', '/healthz', '/readyz', '/metrics']);

/**
 * The route pattern of a request path, for logs, metrics labels and errors: a raw path may
 * hold PII (`/v1/models/219-09-9999`), so it is never written anywhere; unknown paths are `other`.
 */
export function routePattern(path: string): string {
  if (KNOWN_PATHS.has(path)) return path;
  if (path.startsWith('/v1/models/')) return '/v1/models/:id';
  const r = /^\/v1\/responses\/[^/]+(\/cancel|\/input_items)?$/.exec(path);
  return r ? `/v1/responses/:id${r[1] ?? ''}` : 'other';
}

export function createMetrics(): Metrics {
  const requests = new Map<string, number>();
  const latency = new Map<string, Histogram>();
  const sanitize = new Histogram();
  const entities = new Map<string, number>();
  const streams = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);
  return {
    observeRequest(path, status, ms) {
      const p = routePattern(path);
      inc(requests, `path="${p}",status="${status}"`);
      let h = latency.get(p);
      if (!h) latency.set(p, (h = new Histogram()));
      h.observe(ms);
    },
    observeSanitize(ms, counts) {
      sanitize.observe(ms);
      for (const [t, n] of Object.entries(counts)) inc(entities, `type="${t}"`, n ?? 0);
    },
    observeStream(outcome) {
      inc(streams, `outcome="${outcome}"`);
    },
    render() {
      const lines: string[] = [];
      lines.push('# TYPE veil_requests_total counter');
      for (const [k, v] of requests) lines.push(`veil_requests_total{${k}} ${v}`);
      lines.push('# TYPE veil_request_duration_ms histogram');
      for (const [p, h] of latency) lines.push(...h.render('veil_request_duration_ms', `path="${p}"`));
      lines.push('# TYPE veil_sanitize_duration_ms histogram');
      lines.push(...sanitize.render('veil_sanitize_duration_ms', ''));
      lines.push('# TYPE veil_entities_masked_total counter');
      for (const [k, v] of entities) lines.push(`veil_entities_masked_total{${k}} ${v}`);
      lines.push('# TYPE veil_streams_total counter');
      for (const [k, v] of streams) lines.push(`veil_streams_total{${k}} ${v}`);
      return lines.join('\n') + '\n';
    },
  };
}
