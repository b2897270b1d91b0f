/**
 * Prometheus-style counters and histograms, in memory, per process. Labels are paths, status
 * codes, entity types, outcomes, job ids and job kinds only — never values.
 * Key-rotation jobs (src/jobs): counters of what this process did (rows / keys moved, failed
 * batches) and gauges of the recent jobs as last read from the database (done, total, left,
 * rate over the last two reads, state), refreshed by the gateway's job poller.
 */
import type { EntityType } from '../core/types.js';

/** One job as the poller last read it (src/jobs/rotate.ts Job, the fields metrics need). */
export interface JobGauge {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly done: number;
  readonly total: number;
}

const JOB_STATES = ['running', 'paused', 'cancelled', 'done', 'failed'] as const;

export interface Metrics {
  observeRequest(path: string, status: number, ms: number): void;
  observeSanitize(ms: number, counts: Partial<Record<EntityType, number>>): void;
  observeStream(outcome: string): void;
  /** A job batch of this process moved `rows` rows (DEK) or keys (KEK, master). */
  observeJobBatch(kind: string, rows: number): void;
  /** A job batch of this process failed (it wrote nothing and will be retried, or the job failed). */
  observeJobError(kind: string): void;
  /** The recent jobs as just read from the database (replaces the previous read). */
  setJobs(jobs: readonly JobGauge[], atMs?: number): void;
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
  const jobRows = new Map<string, number>();
  const jobErrors = new Map<string, number>();
  let jobs: { g: JobGauge; rate: number }[] = [];
  let jobsAt = 0;
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
    observeJobBatch(kind, rows) {
      inc(jobRows, `kind="${kind}"`, rows);
    },
    observeJobError(kind) {
      inc(jobErrors, `kind="${kind}"`);
    },
    setJobs(list, atMs = Date.now()) {
      const prev = new Map(jobs.map((j) => [j.g.id, j.g.done]));
      const dt = (atMs - jobsAt) / 1000;
      jobs = list.map((g) => {
        const before = prev.get(g.id);
        return { g, rate: before !== undefined && dt > 0 && g.state === 'running' ? Math.max(0, (g.done - before) / dt) : 0 };
      });
      jobsAt = atMs;
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
      lines.push('# HELP veil_job_rows_processed_total Rows (DEK) or keys (KEK, master) this process moved in rotation jobs.');
      lines.push('# TYPE veil_job_rows_processed_total counter');
      for (const [k, v] of jobRows) lines.push(`veil_job_rows_processed_total{${k}} ${v}`);
      lines.push('# TYPE veil_job_batch_errors_total counter');
      for (const [k, v] of jobErrors) lines.push(`veil_job_batch_errors_total{${k}} ${v}`);
      const gauge = (name: string, help: string, value: (j: { g: JobGauge; rate: number }) => number) => {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
        for (const j of jobs) lines.push(`${name}{job="${j.g.id}",kind="${j.g.kind}"} ${value(j)}`);
      };
      gauge('veil_job_rows_done', 'Rows or keys a recent job has moved (all processes).', (j) => j.g.done);
      gauge('veil_job_rows_total', 'Rows or keys a recent job had to move when it started.', (j) => j.g.total);
      gauge('veil_job_rows_left', 'Rows or keys still to move (lag; 0 once done).', (j) => Math.max(0, j.g.total - j.g.done));
      gauge('veil_job_rows_per_second', 'Rate of a running job over the last two reads (all processes).', (j) => Math.round(j.rate * 10) / 10);
      lines.push('# HELP veil_job_state 1 for the state a recent job is in.', '# TYPE veil_job_state gauge');
      for (const j of jobs) for (const st of JOB_STATES) lines.push(`veil_job_state{job="${j.g.id}",kind="${j.g.kind}",state="${st}"} ${j.g.state === st ? 1 : 0}`);
      return lines.join('\n') + '\n';
    },
  };
}
