/** Median wall time of `fn` in ms, after warm-up; runs at least `minReps` times and about `budgetMs`. */
export function medianMs(fn: () => unknown, minReps = 31, budgetMs = 400): number {
  const warmUntil = performance.now() + 50;
  do fn();
  while (performance.now() < warmUntil);
  const samples: number[] = [];
  const stopAt = performance.now() + budgetMs;
  while (samples.length < minReps || (performance.now() < stopAt && samples.length < 5000)) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

/** Median ns of one call of `fn`, over short loops of `calls` (short, so few loops see a preemption). */
export function nsPerCall(fn: () => unknown, calls = 2_000, reps = 101): number {
  for (let i = 0; i < 20_000; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    samples.push(((performance.now() - t0) * 1e6) / calls);
  }
  return median(samples);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
