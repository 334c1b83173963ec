/**
 * The raw output of one find: (rank index, score, slot of the last matched block) rows in typed
 * columns reused from call to call. Plain arrays reset with `length = 0` drop their backing
 * store in V8, so every find re-grew them and fed the GC that showed up as find's p99.9 tail.
 */
export class MatchBuffer {
  workers = new Int32Array(64);
  scores = new Int32Array(64);
  lastSlots = new Int32Array(64);
  count = 0;

  /** Empties the buffer, sized for at least `capacity` rows (one per registered rank is enough). */
  reset(capacity: number): void {
    this.count = 0;
    if (this.workers.length >= capacity) return;
    const size = Math.max(capacity, this.workers.length * 2);
    this.workers = new Int32Array(size);
    this.scores = new Int32Array(size);
    this.lastSlots = new Int32Array(size);
  }

  push(worker: number, score: number, lastSlot: number): void {
    const i = this.count++;
    this.workers[i] = worker;
    this.scores[i] = score;
    this.lastSlots[i] = lastSlot;
  }
}
