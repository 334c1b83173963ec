/** Bounds how many replays run at once across the listeners that share it. */
export class ReplayLimiter {
  readonly concurrency: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(concurrency = 4) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be >= 1');
    this.concurrency = concurrency;
  }

  /** Resolves with a release function once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.active >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }

  get running(): number {
    return this.active;
  }
}

/** Shared by listeners that are not given a limiter of their own. */
export const defaultReplayLimiter = new ReplayLimiter(4);
