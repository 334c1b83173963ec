import { computeBlockHashes, computeSequenceHashes, unpackMsgpack } from '@kvindex/core';
import { Subscriber } from 'zeromq';

interface TruthBlock {
  parent: bigint | null;
  tokensHash: bigint;
}

function u64(value: unknown): bigint {
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt.asUintN(64, BigInt(value));
  throw new Error(`not an integer hash: ${String(value)}`);
}

function field(event: unknown, name: string, position: number): unknown {
  if (Array.isArray(event)) return event[position];
  return (event as Record<string, unknown>)[name];
}

/**
 * The engines' true cache state, rebuilt from the frames they publish, captured by our own SUB
 * socket on every publisher. Only the device tier and plain (no LoRA, no salt) stores, which is
 * all the mocker sends. Scores are what an exact indexer must answer: per (instance, dp rank) the
 * contiguous prefix of the query's blocks the rank holds.
 */
export class EngineTruth {
  private readonly ranks = new Map<string, Map<bigint, TruthBlock>>();
  private readonly sockets: Subscriber[] = [];
  private readonly lastSeq = new Map<string, bigint>();
  readonly problems: string[] = [];
  /**
   * Block hashes an engine evicted while it still held their children. What an index should then
   * answer for prompts through them is a matter of semantics, not of truth: the engine's pool
   * still has the children (a re-stored parent reconnects them), Dynamo's tree unlinks or keeps
   * them depending on other workers (doc §3.3). Probes through such a block are not held to this
   * model (services are still compared with each other).
   */
  private readonly tainted = new Set<bigint>();
  messages = 0;
  private readonly blockSize: number;

  constructor(blockSize: number) {
    this.blockSize = blockSize;
  }

  /** Subscribes to one publisher whose events belong to `instanceId` (rank from the batch, else `dpRank`). */
  async watch(endpoint: string, instanceId: bigint, dpRank: number): Promise<void> {
    const sub = new Subscriber({ linger: 0 });
    sub.connect(endpoint);
    sub.subscribe();
    this.sockets.push(sub);
    void (async () => {
      try {
        for await (const frames of sub) this.onMessage(frames, instanceId, dpRank, endpoint);
      } catch {
        // Closed.
      }
    })();
  }

  private onMessage(frames: Buffer[], instanceId: bigint, registeredRank: number, endpoint: string): void {
    this.messages++;
    if (frames.length !== 3 || frames[1]!.length !== 8) {
      this.problems.push(`${endpoint}: unexpected frames (${frames.length})`);
      return;
    }
    const seq = frames[1]!.readBigUInt64BE(0);
    const last = this.lastSeq.get(endpoint);
    const expected = last === undefined ? 0n : last + 1n;
    if (seq !== expected) this.problems.push(`${endpoint}: seq ${seq}, expected ${expected}`);
    this.lastSeq.set(endpoint, seq);
    const batch = unpackMsgpack(frames[2]!) as [unknown, unknown[], unknown];
    const rank = batch[2] === null || batch[2] === undefined ? registeredRank : Number(batch[2]);
    const key = `${instanceId}/${rank}`;
    let blocks = this.ranks.get(key);
    if (!blocks) {
      blocks = new Map();
      this.ranks.set(key, blocks);
    }
    for (const event of batch[1]) {
      const tag = field(event, 'type', 0);
      if (tag === 'BlockStored') {
        const hashes = (field(event, 'block_hashes', 1) as unknown[]).map(u64);
        const parentRaw = field(event, 'parent_block_hash', 2);
        const tokens = field(event, 'token_ids', 3) as number[];
        const medium = field(event, 'medium', 6);
        if (medium !== undefined && medium !== null && medium !== 'GPU') continue;
        const local = computeBlockHashes(tokens, this.blockSize);
        let parent = parentRaw === null || parentRaw === undefined ? null : u64(parentRaw);
        for (let i = 0; i < Math.min(hashes.length, local.length); i++) {
          blocks.set(hashes[i]!, { parent, tokensHash: local[i]! });
          parent = hashes[i]!;
        }
      } else if (tag === 'BlockRemoved') {
        for (const h of (field(event, 'block_hashes', 1) as unknown[]).map(u64)) {
          for (const b of blocks.values()) {
            if (b.parent === h) {
              this.tainted.add(h);
              break;
            }
          }
          blocks.delete(h);
        }
      } else if (tag === 'AllBlocksCleared') {
        blocks.clear();
      }
    }
  }

  /** `{instance: {dp: tokens}}` as `/query` reports `scores`, for a query's local block hashes. */
  scores(localHashes: ArrayLike<bigint>): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [key, blocks] of this.ranks) {
      const [instance, rank] = key.split('/') as [string, string];
      const child = new Map<string, bigint>();
      for (const [hash, b] of blocks) child.set(`${b.parent}/${b.tokensHash}`, hash);
      let parent: bigint | null = null;
      let n = 0;
      for (let i = 0; i < localHashes.length; i++) {
        const next = child.get(`${parent}/${localHashes[i]}`);
        if (next === undefined) break;
        parent = next;
        n++;
      }
      if (n === 0) continue;
      out[instance] ??= {};
      out[instance][rank] = n * this.blockSize;
    }
    return out;
  }

  /** Whether a prompt's chain passes a block evicted before its children (see `tainted`). */
  ambiguous(localHashes: BigUint64Array): boolean {
    for (const h of computeSequenceHashes(localHashes)) if (this.tainted.has(h)) return true;
    return false;
  }

  /** Total blocks cached over all ranks. */
  size(): number {
    let n = 0;
    for (const blocks of this.ranks.values()) n += blocks.size;
    return n;
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}
