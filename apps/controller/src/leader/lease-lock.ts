import type { Logger } from 'pino';
import { KubeApiError, type KubeClient, objectPath } from '../kube/client.ts';

// client-go's leaderelection over a coordination.k8s.io/v1 Lease: try to acquire every retryPeriod;
// a lease held by someone else counts as expired only after leaseDuration of *our own* clock has
// passed without its record changing (clocks are not compared across machines); the leader renews
// every retryPeriod and steps down when it could not renew for renewDeadline. Updates are
// compare-and-swap on the resourceVersion, so two candidates never both win.

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  onStartedLeading: () => void;
  /** Called once when leadership is lost (not when released): the process should exit. */
  onStoppedLeading: () => void;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (d: Date) => d.toISOString().replace('Z', '000Z');

export class LeaderElector {
  private readonly o: LeaderElectionOptions;
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private lease: Lease | undefined;

  constructor(options: LeaderElectionOptions) {
    this.o = options;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private path(name?: string) {
    return objectPath('coordination.k8s.io/v1', 'leases', this.o.namespace, name);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.o.retryPeriodMs);
  }

  private async tick(): Promise<void> {
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.o.logger.info({ lease: this.o.name, identity: this.o.identity }, 'became leader');
          this.o.onStartedLeading();
        }
      }
    } catch (err) {
      this.o.logger.warn({ err: String(err) }, 'leader election request failed');
    }
    if (this.leading && Date.now() - this.lastRenew > this.o.renewDeadlineMs) {
      this.leading = false;
      this.o.logger.error({ lease: this.o.name }, 'failed to renew the lease within the renew deadline');
      this.o.onStoppedLeading();
      return;
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const { client, identity } = this.o;
    const existing = await client.find<Lease>(this.path(this.o.name));
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    if (!existing) {
      try {
        this.lease = await client.create<Lease>(this.path(), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec,
        });
        return true;
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 409) return false;
        throw err;
      }
    }
    const record = JSON.stringify(existing.spec);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const holder = existing.spec.holderIdentity ?? '';
    const durationMs = (existing.spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== '' && holder !== identity && this.observed.at + durationMs > Date.now()) return false;
    if (holder === identity) {
      spec.acquireTime = existing.spec.acquireTime ?? spec.acquireTime;
      spec.leaseTransitions = existing.spec.leaseTransitions ?? 0;
    } else {
      spec.leaseTransitions = (existing.spec.leaseTransitions ?? 0) + 1;
    }
    try {
      this.lease = await client.replace<Lease>(this.path(this.o.name), { ...existing, spec });
      this.observed = { record: JSON.stringify(this.lease.spec), at: Date.now() };
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) return false;
      throw err;
    }
  }

  /** Stops campaigning; when leading, hands the lease back so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading || !this.lease) return;
    this.leading = false;
    try {
      const current = await this.o.client.find<Lease>(this.path(this.o.name));
      if (current?.spec.holderIdentity !== this.o.identity) return;
      await this.o.client.replace(this.path(this.o.name), {
        ...current,
        spec: {
          ...current.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          renewTime: microTime(new Date()),
        },
      });
      this.o.logger.info({ lease: this.o.name }, 'released the lease');
    } catch (err) {
      this.o.logger.warn({ err: String(err) }, 'releasing the lease failed');
    }
  }
}
