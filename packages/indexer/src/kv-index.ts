import { isRemoved, isStored, type RouterEvent, type StoredBlock } from '@kvindex/core';
import type { ApplyStatus } from './apply-status.ts';
import { BlockSlots } from './block-slots.ts';
import { BATCH_REMOVED, BATCH_STORED, type ColumnarBatch } from './columnar-batch.ts';
import { EdgeArena } from './edge-arena.ts';
import { EdgeNode } from './edge-node.ts';
import { MatchBuffer } from './match-buffer.ts';
import { fromHalves, highHalf, lowHalf, splitInto } from './u64-halves.ts';
import { popcount, WorkerBits } from './worker-bits.ts';
import { WorkerTable } from './worker-table.ts';

/**
 * Per (worker, dp_rank), the number of consecutive blocks from block 0 it holds; only ranks with
 * ≥ 1. The first `count` entries of each array are the result (a reused result's arrays may be longer).
 */
export interface MatchScores {
  count: number;
  workerIds: bigint[];
  dpRanks: Uint32Array;
  scores: Uint32Array;
  /** With `lastBlockHashes: true`: each rank's own block_hash of its last matched block (where lower tiers continue). */
  lastBlockHashes?: bigint[];
}

export interface RankSize {
  worker_id: bigint;
  dp_rank: number;
  /** Lookup entries of the rank: Dynamo's per-worker `current_size`, stale entries included. */
  blocks: number;
}

export interface FindOptions {
  /** Dynamo's early exit: stop once one rank remains active (undercounts it; the service never sets it). */
  earlyExit?: boolean;
  lastBlockHashes?: boolean;
}

export interface IndexWarnings {
  /** Stores that changed nothing (Dynamo's `EventWarningKind::DuplicateStore`). */
  duplicateStore: number;
}

/**
 * The KV block index with NVIDIA Dynamo 1.6.1 `RadixTree` semantics: a compressed radix tree keyed
 * by tokens_hash, with engine block hashes resolved through a lookup per (worker_id, dp_rank).
 *
 * One deliberate difference: a rank resolves its *own* block hashes. Dynamo keeps only the first
 * writer's block_hash on a node, so a second engine hashing with another seed cannot use its own
 * hashes as parents or in removals; here every lookup entry points at a slot (a block position),
 * not at the first writer's hash, so both engines are credited. With shared hashes the two
 * behave identically (proven by the differential suite against Dynamo's crate).
 */
export interface KvIndexOptions {
  /** Positions per edge-arena chunk (tests use tiny chunks to exercise growth and evacuation). */
  edgeArenaChunkPositions?: number;
}

export class KvIndex {
  readonly warnings: IndexWarnings = { duplicateStore: 0 };
  private readonly slots = new BlockSlots();
  private readonly workers = new WorkerTable();
  private readonly arena: EdgeArena;
  private readonly root = new EdgeNode(
    { chunk: 0, start: 0, len: 0, cap: 0 },
    0,
    0,
    new WorkerBits(),
    null,
    null,
    true,
  );
  /** Nodes that may have become unreachable during an operation; freed once it ends. */
  private pendingFree: EdgeNode[] = [];
  // Scratch columns for the blocks of the event being applied.
  private tokLo: Int32Array = new Int32Array(64);
  private tokHi: Int32Array = new Int32Array(64);
  private hashLo: Int32Array = new Int32Array(64);
  private hashHi: Int32Array = new Int32Array(64);
  /** A removal's hashes from a BigInt event, in the form batches bring them. */
  private removeLo = new Uint32Array(64);
  private removeHi = new Uint32Array(64);
  private readonly reusableScores: MatchScores = {
    count: 0,
    workerIds: [],
    dpRanks: new Uint32Array(64),
    scores: new Uint32Array(64),
  };
  private readonly found = new MatchBuffer();
  /** The active ranks of a find as bitset words (reused: no allocation per query). */
  private active = new Int32Array(8);
  /** Keeps the prefetch reads of `linkRun` observable so they are not optimized away. */
  private touchSink = 0;
  private dropped = new Int32Array(64);
  private droppedCount = 0;
  private queryLo = new Uint32Array(64);
  private queryHi = new Uint32Array(64);

  constructor(options: KvIndexOptions = {}) {
    this.arena = new EdgeArena(() => this.slots.nodes, options.edgeArenaChunkPositions);
  }

  /** How often the edge arena has evacuated a chunk (observability and tests). */
  get edgeEvacuations(): number {
    return this.arena.evacuations;
  }

  applyEvent(event: RouterEvent): ApplyStatus {
    const { worker_id: workerId } = event;
    const { data, dp_rank: dpRank } = event.event;
    const worker = this.workers.register(workerId, dpRank);
    let status: ApplyStatus = 'ok';
    if (isStored(data)) status = this.applyStored(worker, data.stored.parent_hash, data.stored.blocks);
    else if (isRemoved(data)) status = this.applyRemoved(worker, data.removed.block_hashes);
    else this.dropRank(worker, false);
    this.flushFree();
    return status;
  }

  /**
   * Applies events [from, to) of a columnar batch in order, with `applyEvent`'s semantics, writing
   * each status to `statuses[i - from]` when given. The fast path: no BigInt or object per block.
   */
  applyBatch(batch: ColumnarBatch, from = 0, to: number = batch.length, statuses?: ApplyStatus[]): void {
    for (let i = from; i < to; i++) {
      const worker = this.workers.registerHalves(batch.workerLo[i]!, batch.workerHi[i]!, batch.dpRanks[i]!);
      const start = batch.starts[i]!;
      const end = batch.starts[i + 1]!;
      let status: ApplyStatus = 'ok';
      const kind = batch.kinds[i];
      if (kind === BATCH_STORED) {
        this.loadColumns(batch.tokensLo, batch.tokensHi, batch.hashLo, batch.hashHi, start, end);
        status = this.applyStoredLoaded(
          worker,
          batch.hasParent[i] === 1,
          batch.parentLo[i]! | 0,
          batch.parentHi[i]! | 0,
          end - start,
        );
      } else if (kind === BATCH_REMOVED) {
        status = this.applyRemovedHalves(worker, batch.hashLo, batch.hashHi, start, end);
      } else {
        this.dropRank(worker, false);
      }
      this.flushFree();
      if (statuses !== undefined) statuses[i - from] = status;
    }
  }

  /** Replays events (a dump) into this index; returns how many did not apply cleanly. */
  load(events: Iterable<RouterEvent>): number {
    let failed = 0;
    for (const event of events) if (this.applyEvent(event) !== 'ok') failed++;
    return failed;
  }

  /** Drops every dp rank of the worker. An unknown id is a no-op. */
  removeWorker(workerId: bigint): void {
    for (const worker of this.workers.ranksOf(workerId)) this.dropRank(worker, false);
    this.flushFree();
  }

  removeWorkerDpRank(workerId: bigint, dpRank: number): void {
    const worker = this.workers.indexOf(workerId, dpRank);
    if (worker >= 0) this.dropRank(worker, false);
    this.flushFree();
  }

  /** Empties every rank of the worker but keeps them registered. */
  clearAllBlocks(workerId: bigint): void {
    for (const worker of this.workers.ranksOf(workerId)) this.dropRank(worker, true);
    this.flushFree();
  }

  /** Total lookup entries, as Dynamo's `current_size()`. */
  get currentSize(): number {
    let total = 0;
    for (const worker of this.workers.registered()) total += this.workers.lookups[worker]!.size;
    return total;
  }

  /** Blocks held per registered (worker, dp_rank), empty ranks included. */
  treeSizes(): RankSize[] {
    return this.workers.registered().map((worker) => ({
      worker_id: this.workers.workerIds[worker]!,
      dp_rank: this.workers.dpRanks[worker]!,
      blocks: this.workers.lookups[worker]!.size,
    }));
  }

  /** Registered worker ids, ascending and distinct (Dynamo's `get_workers`). */
  workerIds(): bigint[] {
    const ids = [...new Set(this.workers.registered().map((w) => this.workers.workerIds[w]!))];
    return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Block positions allocated in the tree (freed ones excluded). */
  get blockSlotsInUse(): number {
    return this.slots.live;
  }

  /** Approximate heap bytes of the index's own columns and tables (nodes not included). */
  get tableBytes(): number {
    let bytes = this.slots.byteSize + this.arena.byteSize;
    for (const worker of this.workers.registered()) bytes += this.workers.lookups[worker]!.byteSize;
    return bytes;
  }

  findMatches(localHashes: readonly bigint[], options: FindOptions = {}): MatchScores {
    const n = localHashes.length;
    if (this.queryLo.length < n) {
      this.queryLo = new Uint32Array(n * 2);
      this.queryHi = new Uint32Array(n * 2);
    }
    for (let i = 0; i < n; i++) splitInto(localHashes[i]!, this.queryLo, this.queryHi, i);
    return this.findCore(
      this.queryLo,
      this.queryHi,
      n,
      options.earlyExit ?? false,
      options.lastBlockHashes ?? false,
      false,
    );
  }

  /**
   * findMatches over a query already split into u32 halves, allocation-free: the result is
   * owned by the index and overwritten by the next call (`count` entries are valid).
   */
  findMatchesHalves(queryLo: Uint32Array, queryHi: Uint32Array, n: number, earlyExit: boolean): MatchScores {
    return this.findCore(queryLo, queryHi, n, earlyExit, false, true);
  }

  private findCore(
    queryLo: Uint32Array,
    queryHi: Uint32Array,
    n: number,
    earlyExit: boolean,
    withLastHashes: boolean,
    reuse: boolean,
  ): MatchScores {
    // Rows: rank, score and the slot of its last matched block (used only with withLastHashes).
    const found = this.found;
    found.reset(this.workers.workerIds.length);
    let lastMatchedSlot = -1;
    let node = n > 0 ? this.root.child(queryLo[0]!, queryHi[0]!) : undefined;
    // The active workers as a bitset, intersected word by word with each node's full workers.
    let active = this.active;
    let activeWords = 0;
    let activeCount = 0;
    let depth = 0;
    let seq = 0;
    let first = true;
    // A find allocates nothing, so no edge can move under it.
    const slotChunks = this.arena.slots;
    const tokenChunks = this.arena.tokens;
    while (seq < n && node !== undefined) {
      const edgeSlots = slotChunks[node.chunk]!;
      const edgeTokens = tokenChunks[node.chunk]!;
      const start = node.start;
      const len = node.len;
      const walk = Math.min(len, n - seq);
      let matched = 0;
      while (matched < walk) {
        const at = 2 * (start + matched);
        if (
          edgeTokens[at] !== (queryLo[seq + matched]! | 0) ||
          edgeTokens[at + 1] !== (queryHi[seq + matched]! | 0)
        )
          break;
        matched++;
      }
      if (matched === 0) break;
      const full = node.full;
      if (first) {
        activeWords = full.wordCount;
        if (active.length < activeWords) {
          active = new Int32Array(activeWords * 2);
          this.active = active;
        }
        for (let i = 0; i < activeWords; i++) active[i] = full.word(i);
        activeCount = node.full.size;
        if (node.cutoffs.size > 0) {
          for (const [worker, cutoff] of node.cutoffs) {
            const contribution = Math.min(cutoff, matched);
            if (contribution === 0) continue;
            found.push(worker, contribution, withLastHashes ? edgeSlots[start + contribution - 1]! : -1);
          }
        }
        first = false;
      } else {
        for (let i = 0; i < activeWords; i++) {
          const a = active[i]!;
          if (a === 0) continue;
          const kept = a & full.word(i);
          let dropped = a ^ kept;
          if (dropped === 0) continue;
          active[i] = kept;
          activeCount -= popcount(dropped);
          while (dropped !== 0) {
            const low = dropped & -dropped;
            dropped ^= low;
            const worker = (i << 5) | (31 - Math.clz32(low));
            const cutoff = node.cutoffs.size > 0 ? node.cutoffs.get(worker) : undefined;
            const contribution = cutoff === undefined ? 0 : Math.min(cutoff, matched);
            found.push(
              worker,
              depth + contribution,
              contribution > 0 ? edgeSlots[start + contribution - 1]! : lastMatchedSlot,
            );
          }
        }
      }
      depth += matched;
      lastMatchedSlot = edgeSlots[start + matched - 1]!;
      if (activeCount === 0 || matched < len || depth === n || (earlyExit && activeCount === 1)) break;
      seq += matched;
      node = node.child(queryLo[seq]!, queryHi[seq]!);
    }
    for (let i = 0; i < activeWords; i++) {
      let a = active[i]!;
      while (a !== 0) {
        const low = a & -a;
        a ^= low;
        found.push((i << 5) | (31 - Math.clz32(low)), depth, lastMatchedSlot);
      }
    }
    return this.matchScores(found, withLastHashes, reuse);
  }

  /** The tree as stored events, one per run of nodes with the same workers (Dynamo's dump shape). */
  dump(): RouterEvent[] {
    const events: RouterEvent[] = [];
    let eventId = 0n;
    const queue: { node: EdgeNode; parentSlot: number }[] = [];
    this.root.forEachChild((node) => queue.push({ node, parentSlot: -1 }));
    for (let q = 0; q < queue.length; q++) {
      const { node: start, parentSlot } = queue[q]!;
      const merged: number[] = [];
      const mergedTokens: number[] = [];
      let current = start;
      for (;;) {
        if (!current.hasAnyWorkers && current.childCount === 0) break;
        const edgeSlots = this.arena.slots[current.chunk]!;
        const edgeTokens = this.arena.tokens[current.chunk]!;
        for (let p = current.start; p < current.start + current.len; p++) {
          merged.push(edgeSlots[p]!);
          mergedTokens.push(edgeTokens[2 * p]!, edgeTokens[2 * p + 1]!);
        }
        const live: EdgeNode[] = [];
        current.forEachChild((c) => {
          if (c.hasAnyWorkers || c.childCount > 0) live.push(c);
        });
        const only = live.length === 1 ? live[0]! : undefined;
        if (
          current.cutoffs.size === 0 &&
          only !== undefined &&
          only.cutoffs.size === 0 &&
          only.hasAnyWorkers &&
          only.full.equals(current.full)
        ) {
          current = only;
          continue;
        }
        if (merged.length === 0) break;
        for (const worker of current.full.toArray())
          events.push(this.dumpEvent(worker, eventId++, parentSlot, merged, mergedTokens, merged.length));
        for (const [worker, cutoff] of current.cutoffs) {
          events.push(this.dumpEvent(worker, eventId++, parentSlot, merged, mergedTokens, cutoff));
        }
        const lastSlot = merged[merged.length - 1]!;
        for (const child of live) queue.push({ node: child, parentSlot: lastSlot });
        break;
      }
    }
    return events;
  }

  // ---- stored ----

  private applyStored(
    worker: number,
    parentHash: bigint | null,
    blocks: readonly StoredBlock[],
  ): ApplyStatus {
    this.loadBlocks(blocks);
    if (parentHash === null) return this.applyStoredLoaded(worker, false, 0, 0, blocks.length);
    return this.applyStoredLoaded(worker, true, lowHalf(parentHash), highHalf(parentHash), blocks.length);
  }

  /**
   * A stored event whose n blocks are in the scratch columns (tokLo, tokHi, hashLo, hashHi); the
   * parent's halves as int32.
   */
  private applyStoredLoaded(
    worker: number,
    hasParent: boolean,
    pLo: number,
    pHi: number,
    n: number,
  ): ApplyStatus {
    if (hasParent) {
      for (let i = 0; i < n; i++) {
        if (this.hashLo[i] === pLo && this.hashHi[i] === pHi) return 'invalid_block_sequence';
      }
    }
    let duplicate = n > 0;
    let parent: EdgeNode;
    if (hasParent) {
      const lookup = this.workers.lookups[worker]!;
      const parentSlot = lookup.get(pLo, pHi);
      if (parentSlot < 0) return 'parent_block_not_found';
      const node = this.slots.nodeOf(parentSlot);
      const parentPos = this.slots.position(parentSlot);
      if (!node.covers(worker, parentPos)) {
        this.unlink(worker, pLo, pHi);
        return 'parent_block_not_found';
      }
      const reused = this.tryReuseParentEdge(worker, node, parentPos, n);
      if (reused !== undefined) {
        if (duplicate && reused) this.warnings.duplicateStore++;
        return 'ok';
      }
      if (parentPos !== node.len - 1) this.split(node, parentPos + 1);
      parent = node;
    } else {
      parent = this.root;
    }

    let i = 0;
    while (i < n) {
      const child = parent.child(this.tokLo[i]!, this.tokHi[i]!);
      if (child === undefined) {
        const canExtend = parent !== this.root && !parent.internal && parent.covers(worker, parent.len - 1);
        if (canExtend) {
          this.appendToLeaf(parent, worker, i, n);
        } else {
          const created = this.newNode(worker, i, n, parent);
          parent.internal = true;
          parent.addChild(created);
        }
        duplicate = false;
        break;
      }
      const edgeTokens = this.arena.tokens[child.chunk]!;
      const edgeStart = child.start;
      const edgeLen = child.len;
      const bound = Math.min(edgeLen, n - i);
      let matchLen = 0;
      while (
        matchLen < bound &&
        edgeTokens[2 * (edgeStart + matchLen)] === this.tokLo[i + matchLen] &&
        edgeTokens[2 * (edgeStart + matchLen) + 1] === this.tokHi[i + matchLen]
      ) {
        matchLen++;
      }
      if (matchLen < edgeLen) {
        if (matchLen === n - i) {
          const changed = child.coverPrefix(worker, matchLen);
          const linked = this.linkRun(worker, i, n, child, 0);
          duplicate = duplicate && !changed && !linked;
          break;
        }
        this.split(child, matchLen);
        child.promoteToFull(worker);
        this.linkRun(worker, i, i + matchLen, child, 0);
        const tail = this.newNode(worker, i + matchLen, n, child);
        child.internal = true;
        child.addChild(tail);
        duplicate = false;
        break;
      }
      if (child.promoteToFull(worker)) duplicate = false;
      if (this.linkRun(worker, i, i + edgeLen, child, 0)) duplicate = false;
      i += edgeLen;
      parent = child;
    }
    if (duplicate) this.warnings.duplicateStore++;
    return 'ok';
  }

  /**
   * A store whose parent sits mid-edge and whose blocks continue that edge: cover it (or extend
   * the leaf) instead of splitting. Returns whether nothing changed, or undefined when it does not apply.
   */
  private tryReuseParentEdge(
    worker: number,
    node: EdgeNode,
    parentPos: number,
    n: number,
  ): boolean | undefined {
    const suffixStart = parentPos + 1;
    const suffixLen = node.len - suffixStart;
    const matches = (count: number) => {
      const s = this.slots;
      const edgeSlots = this.arena.slots[node.chunk]!;
      const edgeTokens = this.arena.tokens[node.chunk]!;
      for (let k = 0; k < count; k++) {
        const p = node.start + suffixStart + k;
        const slot = edgeSlots[p]!;
        if (
          edgeTokens[2 * p] !== this.tokLo[k] ||
          edgeTokens[2 * p + 1] !== this.tokHi[k] ||
          s.hashLo(slot) !== this.hashLo[k] ||
          s.hashHi(slot) !== this.hashHi[k]
        ) {
          return false;
        }
      }
      return true;
    };
    if (n <= suffixLen && matches(n)) {
      const changed = node.coverPrefix(worker, suffixStart + n);
      const linked = this.linkRun(worker, 0, n, node, suffixStart);
      return !changed && !linked;
    }
    if (!node.internal && n > suffixLen && matches(suffixLen)) {
      this.appendToLeaf(node, worker, suffixLen, n);
      this.linkRun(worker, 0, suffixLen, node, suffixStart);
      return false;
    }
    return undefined;
  }

  /** Appends blocks [from, to) of the event to a leaf edge; other full workers keep the old length. */
  private appendToLeaf(node: EdgeNode, worker: number, from: number, to: number): void {
    const oldLen = node.len;
    for (const other of node.full.toArray()) {
      if (other === worker) continue;
      node.full.delete(other);
      node.setCutoff(other, oldLen);
    }
    node.promoteToFull(worker);
    this.arena.extend(node, to - from);
    const edgeSlots = this.arena.slots[node.chunk]!;
    const edgeTokens = this.arena.tokens[node.chunk]!;
    for (let k = from; k < to; k++) {
      const p = node.start + node.len;
      edgeSlots[p] = this.slots.allocate(this.hashLo[k]!, this.hashHi[k]!, node, node.len);
      edgeTokens[2 * p] = this.tokLo[k]!;
      edgeTokens[2 * p + 1] = this.tokHi[k]!;
      node.len++;
    }
    this.linkFresh(worker, from, to, node, oldLen);
  }

  private newNode(worker: number, from: number, to: number, parent: EdgeNode): EdgeNode {
    const n = to - from;
    // Placed before the node is registered: an evacuation inside place moves only registered nodes.
    const range = { chunk: 0, start: 0, len: n, cap: 0 };
    this.arena.place(range, n);
    const start = range.start;
    const node = new EdgeNode(
      range,
      this.tokLo[from]!,
      this.tokHi[from]!,
      WorkerBits.of(worker),
      null,
      parent,
      false,
    );
    this.slots.registerNode(node);
    const edgeSlots = this.arena.slots[range.chunk]!;
    const edgeTokens = this.arena.tokens[range.chunk]!;
    for (let k = from; k < to; k++) {
      const p = start + k - from;
      edgeSlots[p] = this.slots.allocate(this.hashLo[k]!, this.hashHi[k]!, node, k - from);
      edgeTokens[2 * p] = this.tokLo[k]!;
      edgeTokens[2 * p + 1] = this.tokHi[k]!;
    }
    this.linkFresh(worker, from, to, node, 0);
    return node;
  }

  /** Cuts `node` at `pos`: the node keeps edge[0..pos], a new child takes the rest and the children. */
  private split(node: EdgeNode, pos: number): void {
    const suffixCutoffs = new Map<number, number>();
    const promoted: number[] = [];
    for (const [worker, cutoff] of node.cutoffs) {
      if (cutoff < pos) continue;
      promoted.push(worker);
      if (cutoff - pos > 0) suffixCutoffs.set(worker, cutoff - pos);
    }
    // The suffix takes over the tail of the node's range: nothing is copied.
    const headAt = node.start + pos;
    const suffix = new EdgeNode(
      { chunk: node.chunk, start: headAt, len: node.len - pos, cap: node.cap - pos },
      this.arena.tokens[node.chunk]![2 * headAt]!,
      this.arena.tokens[node.chunk]![2 * headAt + 1]!,
      node.full.clone(),
      suffixCutoffs,
      node,
      node.internal,
    );
    node.len = pos;
    node.cap = pos;
    this.slots.registerNode(suffix);
    for (const worker of promoted) node.promoteToFull(worker);
    for (const child of node.takeChildren()) {
      child.parent = suffix;
      suffix.addChild(child);
    }
    node.addChild(suffix);
    node.internal = true;
    let moved = 0;
    const edgeSlots = this.arena.slots[suffix.chunk]!;
    for (let k = 0; k < suffix.len; k++) {
      const slot = edgeSlots[suffix.start + k]!;
      this.slots.move(slot, suffix, k);
      moved += this.slots.refs(slot);
    }
    suffix.refs = moved;
    node.refs -= moved;
    if (node.refs === 0 && node.parent === null) this.pendingFree.push(node);
    this.prune(suffix);
  }

  // ---- removed ----

  private applyRemoved(worker: number, hashes: readonly bigint[]): ApplyStatus {
    const n = hashes.length;
    if (this.removeLo.length < n) {
      this.removeLo = new Uint32Array(n * 2);
      this.removeHi = new Uint32Array(n * 2);
    }
    for (let i = 0; i < n; i++) splitInto(hashes[i]!, this.removeLo, this.removeHi, i);
    return this.applyRemovedHalves(worker, this.removeLo, this.removeHi, 0, n);
  }

  private applyRemovedHalves(
    worker: number,
    hashLo: Uint32Array,
    hashHi: Uint32Array,
    from: number,
    to: number,
  ): ApplyStatus {
    const lookup = this.workers.lookups[worker]!;
    let firstError: ApplyStatus | undefined;
    // Hashes this event already dropped as newly uncovered: a later miss on one is not an error.
    this.droppedCount = 0;
    for (let idx = from; idx < to; idx++) {
      const lo = hashLo[idx]! | 0;
      const hi = hashHi[idx]! | 0;
      const slot = this.unlink(worker, lo, hi);
      if (slot < 0) {
        if (!this.wasDropped(lo, hi)) firstError ??= 'block_not_found';
        continue;
      }
      const node = this.slots.nodeOf(slot);
      const firstPos = this.slots.position(slot);
      let minPos = firstPos;
      if (node.covers(worker, firstPos)) {
        // Later hashes of the same run on this edge are folded into one cut at the lowest position.
        while (idx + 1 < to) {
          const nextSlot = lookup.get(hashLo[idx + 1]! | 0, hashHi[idx + 1]! | 0);
          if (nextSlot < 0 || this.slots.nodeOf(nextSlot) !== node) break;
          const nextPos = this.slots.position(nextSlot);
          if (!node.covers(worker, nextPos)) break;
          if (nextPos < minPos) minPos = nextPos;
          idx++;
        }
      }
      const cutoff = node.currentCutoff(worker);
      if (minPos >= cutoff) {
        this.recordDropped(lo, hi);
        this.prune(node);
        continue;
      }
      if (minPos === 0) node.dropWorker(worker);
      else {
        node.full.delete(worker);
        node.setCutoff(worker, minPos);
      }
      this.prune(node);
      // The node is left alive for other workers without invalidating this worker in the
      // descendants: Dynamo's TODO(CORRECTNESS) behaviour, kept so scores and sizes stay equal.
      const own = this.workers.ownHashes[worker];
      const edgeSlots = this.arena.slots[node.chunk]!;
      for (let k = minPos; k < cutoff; k++) {
        const uncovered = edgeSlots[node.start + k]!;
        const ownHash = own?.get(uncovered);
        if (
          uncovered === slot &&
          (ownHash === undefined || (lowHalf(ownHash) === lo && highHalf(ownHash) === hi))
        ) {
          // The removed block itself: already unlinked above.
          this.recordDropped(lo, hi);
          continue;
        }
        let ulo: number;
        let uhi: number;
        if (ownHash === undefined) {
          ulo = this.slots.hashLo(uncovered);
          uhi = this.slots.hashHi(uncovered);
        } else {
          ulo = lowHalf(ownHash);
          uhi = highHalf(ownHash);
        }
        this.unlink(worker, ulo, uhi);
        this.recordDropped(ulo, uhi);
      }
    }
    return firstError ?? 'ok';
  }

  private recordDropped(lo: number, hi: number): void {
    if (this.droppedCount * 2 + 2 > this.dropped.length) {
      const grown = new Int32Array(this.dropped.length * 2);
      grown.set(this.dropped);
      this.dropped = grown;
    }
    this.dropped[this.droppedCount * 2] = lo;
    this.dropped[this.droppedCount * 2 + 1] = hi;
    this.droppedCount++;
  }

  private wasDropped(lo: number, hi: number): boolean {
    for (let i = 0; i < this.droppedCount; i++) {
      if (this.dropped[i * 2] === lo && this.dropped[i * 2 + 1] === hi) return true;
    }
    return false;
  }

  // ---- cleared / worker removal ----

  private dropRank(worker: number, keepRegistered: boolean): void {
    const lookup = this.workers.lookups[worker]!;
    const nodes = new Set<EdgeNode>();
    lookup.forEach((_lo, _hi, slot) => {
      nodes.add(this.slots.nodeOf(slot));
      this.dropRef(slot);
    });
    for (const node of nodes) {
      node.dropWorker(worker);
      this.prune(node);
    }
    if (keepRegistered) {
      lookup.clear();
      this.workers.ownHashes[worker] = null;
    } else {
      this.workers.unregister(worker);
    }
  }

  // ---- structure upkeep ----

  /** Dynamo's `prune_unreachable`: a node no worker fully covers loses its children; an empty node leaves its parent. */
  private prune(node: EdgeNode): void {
    if (node.full.size === 0 && node.childCount > 0) {
      for (const child of node.takeChildren()) {
        child.parent = null;
        if (child.refs === 0) this.pendingFree.push(child);
      }
    }
    if (node.hasAnyWorkers) return;
    const parent = node.parent;
    if (parent !== null) {
      parent.removeChild(node);
      node.parent = null;
    }
    if (node.refs === 0) this.pendingFree.push(node);
  }

  /** Frees nodes no parent and no lookup entry reaches any more, with their slots. */
  private flushFree(): void {
    while (this.pendingFree.length > 0) {
      const node = this.pendingFree.pop()!;
      if (node.freed || node.parent !== null || node.refs > 0 || node === this.root) continue;
      node.freed = true;
      const edgeSlots = this.arena.slots[node.chunk]!;
      for (let p = node.start; p < node.start + node.len; p++) this.slots.release(edgeSlots[p]!);
      this.arena.release(node);
      this.slots.releaseNode(node);
      for (const child of node.takeChildren()) {
        child.parent = null;
        if (child.refs === 0) this.pendingFree.push(child);
      }
    }
  }

  /**
   * Points the worker's lookup entries for the event's blocks [from, to) at the node's slots from
   * `firstPos` on. Returns whether any entry was new or pointed at another node.
   */
  private linkRun(worker: number, from: number, to: number, node: EdgeNode, firstPos: number): boolean {
    if (to - from > 8)
      this.touchSink ^= this.workers.lookups[worker]!.touch(this.hashLo, this.hashHi, from, to);
    let changed = false;
    const edgeSlots = this.arena.slots[node.chunk]!;
    const at = node.start + firstPos - from;
    for (let k = from; k < to; k++) {
      if (this.link(worker, this.hashLo[k]!, this.hashHi[k]!, edgeSlots[at + k]!)) changed = true;
    }
    return changed;
  }

  /**
   * `linkRun` for slots this event has just allocated: their hash is the event's own and nothing
   * points at them yet, so the per-block node and own-hash checks of `link` are skipped (new
   * blocks are most of what a store writes).
   */
  private linkFresh(worker: number, from: number, to: number, node: EdgeNode, firstPos: number): void {
    const lookup = this.workers.lookups[worker]!;
    const hashLo = this.hashLo;
    const hashHi = this.hashHi;
    if (to - from > 8) this.touchSink ^= lookup.touch(hashLo, hashHi, from, to);
    const edgeSlots = this.arena.slots[node.chunk]!;
    const at = node.start + firstPos - from;
    node.refs += to - from;
    for (let k = from; k < to; k++) {
      const slot = edgeSlots[at + k]!;
      this.slots.addRefs(slot, 1);
      const previous = lookup.set(hashLo[k]!, hashHi[k]!, slot);
      if (previous >= 0) {
        this.forgetOwnHash(worker, previous, hashLo[k]!, hashHi[k]!);
        this.dropRef(previous);
      }
    }
  }

  private link(worker: number, lo: number, hi: number, slot: number): boolean {
    const previous = this.workers.lookups[worker]!.set(lo, hi, slot);
    if (previous === slot) return false;
    const changed = previous < 0 || this.slots.nodeOf(previous) !== this.slots.nodeOf(slot);
    if (previous >= 0) {
      this.forgetOwnHash(worker, previous, lo, hi);
      this.dropRef(previous);
    }
    this.slots.addRefs(slot, 1);
    this.slots.nodeOf(slot).refs++;
    if (this.slots.hashLo(slot) !== lo || this.slots.hashHi(slot) !== hi) {
      let own = this.workers.ownHashes[worker];
      if (!own) {
        own = new Map();
        this.workers.ownHashes[worker] = own;
      }
      own.set(slot, fromHalves(lo, hi));
    }
    return changed;
  }

  /** Removes the worker's lookup entry for a hash; returns the slot it pointed at, or -1. */
  private unlink(worker: number, lo: number, hi: number): number {
    const slot = this.workers.lookups[worker]!.delete(lo, hi);
    if (slot < 0) return -1;
    this.forgetOwnHash(worker, slot, lo, hi);
    this.dropRef(slot);
    return slot;
  }

  private forgetOwnHash(worker: number, slot: number, lo: number, hi: number): void {
    const own = this.workers.ownHashes[worker];
    if (own && own.size > 0 && own.get(slot) === fromHalves(lo, hi)) own.delete(slot);
  }

  private dropRef(slot: number): void {
    this.slots.addRefs(slot, -1);
    const node = this.slots.nodeOf(slot);
    if (--node.refs === 0 && node.parent === null) this.pendingFree.push(node);
  }

  private ownHash(worker: number, slot: number): bigint {
    return (
      this.workers.ownHashes[worker]?.get(slot) ??
      fromHalves(this.slots.hashLo(slot), this.slots.hashHi(slot))
    );
  }

  private loadBlocks(blocks: readonly StoredBlock[]): void {
    const n = blocks.length;
    this.ensureScratch(n);
    for (let i = 0; i < n; i++) {
      const b = blocks[i]!;
      splitInto(b.tokens_hash, this.tokLo, this.tokHi, i);
      splitInto(b.block_hash, this.hashLo, this.hashHi, i);
    }
  }

  /** Copies rows [from, to) of u32 columns into the scratch columns, as int32. */
  private loadColumns(
    tokensLo: Uint32Array,
    tokensHi: Uint32Array,
    hashLo: Uint32Array,
    hashHi: Uint32Array,
    from: number,
    to: number,
  ): void {
    this.ensureScratch(to - from);
    const { tokLo, tokHi } = this;
    const scratchLo = this.hashLo;
    const scratchHi = this.hashHi;
    for (let k = 0; k < to - from; k++) {
      tokLo[k] = tokensLo[from + k]!;
      tokHi[k] = tokensHi[from + k]!;
      scratchLo[k] = hashLo[from + k]!;
      scratchHi[k] = hashHi[from + k]!;
    }
  }

  private ensureScratch(n: number): void {
    if (this.tokLo.length >= n) return;
    this.tokLo = new Int32Array(n * 2);
    this.tokHi = new Int32Array(n * 2);
    this.hashLo = new Int32Array(n * 2);
    this.hashHi = new Int32Array(n * 2);
  }

  private dumpEvent(
    worker: number,
    eventId: bigint,
    parentSlot: number,
    slots: number[],
    tokens: number[],
    count: number,
  ): RouterEvent {
    const blocks: StoredBlock[] = [];
    for (let k = 0; k < count; k++) {
      const slot = slots[k]!;
      blocks.push({
        block_hash: this.ownHash(worker, slot),
        tokens_hash: fromHalves(tokens[2 * k]!, tokens[2 * k + 1]!),
        mm_extra_info: null,
      });
    }
    return {
      worker_id: this.workers.workerIds[worker]!,
      storage_tier: 'device',
      residency_domain: 'worker',
      event: {
        event_id: eventId,
        data: {
          stored: {
            parent_hash: parentSlot < 0 ? null : this.ownHash(worker, parentSlot),
            start_position: null,
            blocks,
          },
        },
        dp_rank: this.workers.dpRanks[worker]!,
      },
    };
  }

  private matchScores(found: MatchBuffer, withLastHashes: boolean, reuse: boolean): MatchScores {
    const { workers, scores, lastSlots } = found;
    const rows = found.count;
    let count = 0;
    for (let i = 0; i < rows; i++) if (scores[i]! >= 1) count++;
    let out: MatchScores;
    if (reuse) {
      out = this.reusableScores;
      if (out.scores.length < count) {
        out.dpRanks = new Uint32Array(count * 2);
        out.scores = new Uint32Array(count * 2);
      }
      out.count = count;
      // Grown, never shrunk: entries past `count` are stale, and trimming would reallocate.
      while (out.workerIds.length < count) out.workerIds.push(0n);
    } else {
      out = {
        count,
        workerIds: new Array<bigint>(count),
        dpRanks: new Uint32Array(count),
        scores: new Uint32Array(count),
      };
    }
    if (withLastHashes) out.lastBlockHashes = new Array<bigint>(count);
    const workerIds = this.workers.workerIds;
    const dpRanks = this.workers.dpRanks;
    let j = 0;
    for (let i = 0; i < rows; i++) {
      if (scores[i]! < 1) continue;
      const worker = workers[i]!;
      if (withLastHashes) out.lastBlockHashes![j] = this.ownHash(worker, lastSlots[i]!);
      out.workerIds[j] = workerIds[worker]!;
      out.dpRanks[j] = dpRanks[worker]!;
      out.scores[j] = scores[i]!;
      j++;
    }
    return out;
  }
}
