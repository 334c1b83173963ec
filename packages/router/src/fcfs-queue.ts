/**
 * Dynamo's fcfs queue policy: while every worker is busy a request is parked; when capacity frees
 * up the oldest parked request is scheduled first. Jobs run synchronously on release, so the load
 * a released request adds is visible before the next one is considered.
 */
export class FcfsQueue {
  private readonly jobs: Array<() => void> = [];

  get length(): number {
    return this.jobs.length;
  }

  /** Parks a job; it runs on a later `drain` when admission allows. */
  park(job: () => void): void {
    this.jobs.push(job);
  }

  /** Runs parked jobs in arrival order while `canAdmit` holds; returns how many ran. */
  drain(canAdmit: () => boolean): number {
    let ran = 0;
    while (this.jobs.length > 0 && canAdmit()) {
      this.jobs.shift()!();
      ran++;
    }
    return ran;
  }

  /** Removes every parked job without running it (shutdown); returns them for the caller to reject. */
  clear(): Array<() => void> {
    return this.jobs.splice(0, this.jobs.length);
  }
}

/** Dynamo's busy test: a worker whose active prefill tokens exceed threshold × its batch capacity. */
export function isBusy(activePrefillTokens: number, threshold: number, maxNumBatchedTokens: number): boolean {
  return activePrefillTokens > threshold * maxNumBatchedTokens;
}
