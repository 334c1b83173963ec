import { routerEventToValue, stringifyJsonExact } from '@kvindex/core';
import type { StreamOp, StreamStep } from '@kvindex/indexer/test-support';

/** What each command line checks, so a differing answer names its step. */
export interface LineRole {
  step: number;
  what: 'op' | 'find' | 'find_early_exit' | 'sizes' | 'dump';
}

export interface StreamScript {
  lines: string[];
  roles: LineRole[];
}

export interface ScriptOptions {
  /** Also compare dump block sets after every step (they hold Dynamo's hashes, so not with per-engine streams). */
  dumps: boolean;
}

/** The conform commands for a stream: after every op its probes, an early-exit probe, the tree sizes and a dump. */
export function streamScript(steps: readonly StreamStep[], options: ScriptOptions): StreamScript {
  const lines: string[] = [];
  const roles: LineRole[] = [];
  steps.forEach(({ op, probes }, step) => {
    lines.push(opLine(op));
    roles.push({ step, what: 'op' });
    for (const probe of probes) {
      lines.push(stringifyJsonExact({ find: probe, tree_sizes: false }));
      roles.push({ step, what: 'find' });
    }
    if (probes.length > 0) {
      lines.push(stringifyJsonExact({ find: probes[0], early_exit: true, tree_sizes: false }));
      roles.push({ step, what: 'find_early_exit' });
    }
    lines.push('{"find":[],"tree_sizes":true}');
    roles.push({ step, what: 'sizes' });
    if (options.dumps) {
      lines.push('{"dump":true}');
      roles.push({ step, what: 'dump' });
    }
  });
  return { lines, roles };
}

export function opLine(op: StreamOp): string {
  switch (op.kind) {
    case 'event':
      return stringifyJsonExact({ event: routerEventToValue(op.event) });
    case 'remove_worker':
      return stringifyJsonExact({ remove_worker: op.workerId });
    case 'remove_worker_dp_rank':
      return stringifyJsonExact({ remove_worker_dp_rank: [op.workerId, op.dpRank] });
    case 'clear_all_blocks':
      return stringifyJsonExact({ clear_all_blocks: op.workerId });
  }
}
