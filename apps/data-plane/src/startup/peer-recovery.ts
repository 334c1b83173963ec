import { parseJsonExact } from '@kvindex/core';
import type { Logger } from 'pino';
import { type LoadResult, loadDump } from '../service/dump.ts';
import type { WorkerRegistry } from '../service/registry.ts';

/**
 * Dynamo's `--peers` recovery: before listeners start draining, fetch `GET <peer>/dump` from the
 * first peer that answers (10 s timeout each, in order), replay it, then list every peer in
 * /peers. Unlike Dynamo's frozen snapshot, the workers registered afterwards keep it live.
 */

export interface RecoveryOptions {
  /** Head start given to co-launched peers (Dynamo waits 1 s). */
  delayMs?: number;
  timeoutMs?: number;
  logger?: Logger | undefined;
}

export interface RecoveryOutcome {
  peer: string | undefined;
  result: LoadResult | undefined;
}

export async function recoverFromPeers(
  registry: WorkerRegistry,
  peers: readonly string[],
  options: RecoveryOptions = {},
): Promise<RecoveryOutcome> {
  const outcome: RecoveryOutcome = { peer: undefined, result: undefined };
  if (peers.length === 0) return outcome;
  await new Promise((r) => setTimeout(r, options.delayMs ?? 1000));
  for (const peer of peers) {
    const url = `${peer.replace(/\/+$/, '')}/dump`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const doc = parseJsonExact(await res.text());
      outcome.result = loadDump(registry, doc);
      outcome.peer = peer;
      options.logger?.info({ peer, ...outcome.result }, 'recovery from peer succeeded');
      break;
    } catch (err) {
      options.logger?.warn({ peer, err: (err as Error).message }, 'recovery from peer failed');
    }
  }
  if (!outcome.peer) options.logger?.warn('no reachable peers, starting with empty state');
  for (const peer of peers) registry.registerPeer(peer);
  return outcome;
}
