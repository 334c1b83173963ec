import { parseJsonExact, stringifyJsonExact } from '@kvindex/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { RemoteOverlaps } from '../service/router-service.ts';

/**
 * `--use-remote-indexer`: a routing data plane that holds no index asks a serving one for
 * overlaps — over HTTP (`POST {url}/query_by_hash`, scores in tokens) or over NATS (Dynamo's
 * `kv_indexer_query` subject, `FindMatchesHashed`, scores in blocks). A remote failure (refused,
 * timeout, error answer) yields no overlaps and is counted; routing goes on on load alone.
 */

export interface RemoteIndexer extends RemoteOverlaps {
  failures(): number;
  lastError(): string | undefined;
  close(): Promise<void>;
}

type Scores = Record<string, Record<string, number | bigint>>;

function overlapsFrom(scores: Scores, divisor: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [worker, ranks] of Object.entries(scores)) {
    for (const [dp, n] of Object.entries(ranks)) out.set(`${worker}:${dp}`, Math.floor(Number(n) / divisor));
  }
  return out;
}

function isScores(v: unknown): v is Scores {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function remoteIndexer(
  target: string,
  o: { natsUrl?: string | undefined; timeoutMs?: number },
): RemoteIndexer {
  const timeoutMs = o.timeoutMs ?? 2_000;
  let failures = 0;
  let lastError: string | undefined;
  const fail = (err: unknown): Map<string, number> => {
    failures++;
    lastError = err instanceof Error ? err.message : String(err);
    return new Map();
  };

  if (/^https?:\/\//.test(target)) {
    const url = `${target.replace(/\/+$/, '')}/query_by_hash`;
    return {
      async overlaps(p, localHashes) {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: stringifyJsonExact({
              block_hashes: Array.from(localHashes, (h) => BigInt.asIntN(64, h)),
              model_name: p.modelName,
              routing_group: p.routingGroup,
            }),
            signal: AbortSignal.timeout(timeoutMs),
          });
          const text = await res.text();
          if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 200)}`);
          const body = parseJsonExact(text) as { scores?: unknown };
          if (!isScores(body.scores)) throw new Error(`${url} answered without scores`);
          return overlapsFrom(body.scores, p.blockSize);
        } catch (err) {
          return fail(err);
        }
      },
      failures: () => failures,
      lastError: () => lastError,
      close: async () => {},
    };
  }

  if (o.natsUrl === undefined) throw new Error('--use-remote-indexer with a NATS subject needs --nats-url');
  const servers = o.natsUrl;
  let nc: Promise<NatsConnection> | undefined;
  const connection = () => {
    nc ??= connect({ servers, name: 'kvindex-remote-indexer' }).catch((err: unknown) => {
      nc = undefined;
      throw err;
    });
    return nc;
  };
  return {
    async overlaps(_p, localHashes) {
      try {
        const c = await connection();
        const reply = await c.request(
          target,
          stringifyJsonExact({ FindMatchesHashed: { block_hashes: Array.from(localHashes) } }),
          { timeout: timeoutMs },
        );
        const body = parseJsonExact(reply.string()) as { Matches?: { scores?: unknown }; Error?: unknown };
        if (body.Error !== undefined) throw new Error(`remote indexer: ${String(body.Error)}`);
        if (!isScores(body.Matches?.scores))
          throw new Error('remote indexer answered without Matches.scores');
        return overlapsFrom(body.Matches.scores, 1);
      } catch (err) {
        return fail(err);
      }
    },
    failures: () => failures,
    lastError: () => lastError,
    close: async () => {
      const c = await nc?.catch(() => undefined);
      await c?.drain().catch(() => {});
    },
  };
}
