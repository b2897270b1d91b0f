/**
 * This process's encryption leases: per tenant, encryptions reserved in the database under one
 * DEK version and not yet used. `take` hands out one DEK assignment per encryption, in order,
 * refilling (at most one refill per tenant at a time) when a lease runs out; a lease also ends
 * with the key-cache TTL, so other processes' rotations are seen. Pure TypeScript; runs on Workers.
 */
import { createInflight, createTtlCache } from '../core/cache.js';

export interface DekUse {
  readonly version: number;
  readonly key: Uint8Array;
}

/** Encryptions reserved in the database and not yet used, under one DEK version. */
export interface Lease {
  version: number;
  key: Uint8Array;
  remaining: number;
}

export interface DekLeases {
  take(tenantId: string, count: number): Promise<DekUse[]>;
  drop(tenantId: string): void;
  clear(): void;
}

export function createDekLeases(opts: {
  ttlMs: number;
  max: number;
  now: () => number;
  /** Reserves a fresh lease in the database. */
  refill: (tenantId: string) => Promise<Lease>;
}): DekLeases {
  const leases = createTtlCache<string, Lease>(opts);
  const refills = createInflight<string, void>();
  return {
    async take(tenantId, count) {
      const out: DekUse[] = [];
      while (out.length < count) {
        const lease = leases.get(tenantId);
        if (lease && lease.remaining > 0) {
          const n = Math.min(lease.remaining, count - out.length);
          lease.remaining -= n;
          for (let i = 0; i < n; i++) out.push({ version: lease.version, key: lease.key });
          continue;
        }
        leases.delete(tenantId);
        await refills.run(tenantId, async () => void leases.set(tenantId, await opts.refill(tenantId)));
      }
      return out;
    },
    drop: (tenantId) => void leases.delete(tenantId),
    clear: () => leases.clear(),
  };
}
