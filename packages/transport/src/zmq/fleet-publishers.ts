import { type WorkerKey, workerKeyString } from '@kvindex/core';
import { type EngineOutputLike, engineOutputToWireEvents, type WireEventOptions } from '../engine-output.ts';
import { VllmZmqPublisher, type VllmZmqPublisherOptions } from './vllm-zmq-publisher.ts';

/** vLLM's data-parallel rule: rank r of a worker publishes on the base port + r. */
export function endpointForDpRank(endpoint: string, dpRank: number): string {
  const m = /^(tcp:\/\/.+):(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`not a tcp endpoint with a port: ${endpoint}`);
  return `${m[1]}:${Number(m[2]) + dpRank}`;
}

export interface FleetEndpoint extends WorkerKey {
  endpoint: string;
  replay_endpoint: string | null;
}

/**
 * One vLLM-compatible publisher per simulated (worker, dp_rank): the glue that lets N simulated
 * engines publish over real sockets. Engine outputs go in as plain objects (the simulator's
 * `EngineOutput` fits), so transport does not depend on the simulator.
 */
export class ZmqFleetPublishers {
  private readonly publishers: Map<string, { key: WorkerKey; publisher: VllmZmqPublisher }>;
  private readonly wireOptions: WireEventOptions;

  private constructor(
    publishers: Map<string, { key: WorkerKey; publisher: VllmZmqPublisher }>,
    wireOptions: WireEventOptions,
  ) {
    this.publishers = publishers;
    this.wireOptions = wireOptions;
  }

  /** Binds a PUB and a ROUTER on ephemeral loopback ports for each worker rank. */
  static async bind(
    workers: readonly WorkerKey[],
    options: Omit<VllmZmqPublisherOptions, 'endpoint' | 'replayEndpoint'> & WireEventOptions = {},
  ): Promise<ZmqFleetPublishers> {
    const map = new Map<string, { key: WorkerKey; publisher: VllmZmqPublisher }>();
    try {
      for (const key of workers) {
        const publisher = await VllmZmqPublisher.bind({ ...options, dpRank: options.dpRank ?? key.dp_rank });
        map.set(workerKeyString(key), { key, publisher });
      }
    } catch (err) {
      await Promise.all([...map.values()].map((p) => p.publisher.close()));
      throw err;
    }
    return new ZmqFleetPublishers(map, { medium: options.medium, loraName: options.loraName });
  }

  /** Where each worker rank publishes, to register listeners with. */
  endpoints(): FleetEndpoint[] {
    return [...this.publishers.values()].map(({ key, publisher }) => ({
      ...key,
      endpoint: publisher.endpoint,
      replay_endpoint: publisher.replayEndpoint,
    }));
  }

  publisherFor(worker: WorkerKey): VllmZmqPublisher {
    const entry = this.publishers.get(workerKeyString(worker));
    if (!entry) throw new Error(`no publisher for worker ${workerKeyString(worker)}`);
    return entry.publisher;
  }

  /** Publishes one engine output as one batch on its worker's socket; resolves with the batch seq. */
  publish(output: EngineOutputLike & { workerId: bigint; dpRank: number }): Promise<bigint> {
    const publisher = this.publisherFor({ worker_id: output.workerId, dp_rank: output.dpRank });
    return publisher.publish(engineOutputToWireEvents(output, this.wireOptions));
  }

  async close(): Promise<void> {
    await Promise.all([...this.publishers.values()].map((p) => p.publisher.close()));
  }
}
