import { computeSequenceHashes, isRemoved, isStored, type RouterEvent, workerKeyString } from '@kvindex/core';

interface ModelBlock {
  parent: bigint | null;
  tokensHash: bigint;
  children: number;
}

/**
 * A deliberately naive consumer of the simulator's events: per (worker, dp) a map of engine block
 * hash → parent and tokens hash. It refuses anything a correct vLLM stream never does (unknown
 * parent, duplicate store, removing an unknown block or a block whose children are still cached,
 * event ids that do not increase), so replaying into it checks the stream as well as the state.
 */
export class EventReplayModel {
  private readonly ranks = new Map<string, Map<bigint, ModelBlock>>();
  private readonly lastEventId = new Map<string, bigint>();
  /** `${rank}|${parent}/${tokensHash}` → block: the tree edge a prefix walk follows. */
  private readonly childByEdge = new Map<string, bigint>();

  apply(event: RouterEvent): void {
    const key = workerKeyString({ worker_id: event.worker_id, dp_rank: event.event.dp_rank });
    const last = this.lastEventId.get(key);
    if (last !== undefined && event.event.event_id <= last) {
      throw new Error(`${key}: event id ${event.event.event_id} after ${last}`);
    }
    this.lastEventId.set(key, event.event.event_id);
    let blocks = this.ranks.get(key);
    if (!blocks) {
      blocks = new Map();
      this.ranks.set(key, blocks);
    }
    const data = event.event.data;
    if (isStored(data)) {
      let parent = data.stored.parent_hash;
      if (parent !== null && !blocks.has(parent)) throw new Error(`${key}: unknown parent ${parent}`);
      for (const b of data.stored.blocks) {
        if (blocks.has(b.block_hash)) throw new Error(`${key}: block ${b.block_hash} stored twice`);
        if (parent !== null) blocks.get(parent)!.children++;
        blocks.set(b.block_hash, { parent, tokensHash: b.tokens_hash, children: 0 });
        this.childByEdge.set(`${key}|${parent}/${b.tokens_hash}`, b.block_hash);
        parent = b.block_hash;
      }
    } else if (isRemoved(data)) {
      for (const hash of data.removed.block_hashes) {
        const block = blocks.get(hash);
        if (!block) throw new Error(`${key}: removing unknown block ${hash}`);
        if (block.children > 0)
          throw new Error(`${key}: removing block ${hash} before its ${block.children} children`);
        if (block.parent !== null) blocks.get(block.parent)!.children--;
        blocks.delete(hash);
        const edge = `${key}|${block.parent}/${block.tokensHash}`;
        if (this.childByEdge.get(edge) === hash) this.childByEdge.delete(edge);
      }
    } else {
      throw new Error('the simulator never clears');
    }
  }

  /** The blocks of one rank as engine hash → Dynamo sequence hash, rebuilt from the tokens-hash chains. */
  sequenceHashes(workerId: bigint, dpRank: number): Map<bigint, bigint> {
    const blocks = this.rank(workerId, dpRank);
    const out = new Map<bigint, bigint>();
    const seqOf = (hash: bigint): bigint => {
      const known = out.get(hash);
      if (known !== undefined) return known;
      const block = blocks.get(hash)!;
      const seq =
        block.parent === null
          ? block.tokensHash
          : computeSequenceHashes([seqOf(block.parent), block.tokensHash])[1]!;
      out.set(hash, seq);
      return seq;
    };
    for (const hash of blocks.keys()) seqOf(hash);
    return out;
  }

  /** Contiguous match of local hashes from the root on one rank, walking parent links and tokens hashes. */
  prefixMatch(workerId: bigint, dpRank: number, localHashes: BigUint64Array): number {
    const key = workerKeyString({ worker_id: workerId, dp_rank: dpRank });
    let parent: bigint | null = null;
    let n = 0;
    for (const local of localHashes) {
      const next = this.childByEdge.get(`${key}|${parent}/${local}`);
      if (next === undefined) break;
      parent = next;
      n++;
    }
    return n;
  }

  private rank(workerId: bigint, dpRank: number): Map<bigint, ModelBlock> {
    return this.ranks.get(workerKeyString({ worker_id: workerId, dp_rank: dpRank })) ?? new Map();
  }
}
