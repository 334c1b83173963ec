import { DYNAMO_STATUS_NAMES } from '@kvindex/indexer';
import { applyOp, NaiveIndex, type StreamStep } from '@kvindex/indexer/test-support';
import type { StreamScript } from './stream-lines.ts';

/**
 * The answers the naive model gives to a stream's script, in the conform protocol's exact text,
 * for the roles it models (ops, finds without early exit, sizes).
 */
export function naiveAnswers(steps: readonly StreamStep[], script: StreamScript): string[] {
  const naive = new NaiveIndex();
  const answers: string[] = [];
  let probeOfStep = 0;
  let lastStep = -1;
  for (const role of script.roles) {
    const step = steps[role.step]!;
    if (role.step !== lastStep) {
      lastStep = role.step;
      probeOfStep = 0;
    }
    switch (role.what) {
      case 'op':
        answers.push(`{"status":"${DYNAMO_STATUS_NAMES[applyOp(naive, step.op)]}"}`);
        break;
      case 'find':
        answers.push(
          `{"scores":${rankMap(naive.scores(step.probes[probeOfStep++]!))},"current_size":${total(naive)}}`,
        );
        break;
      case 'sizes':
        answers.push(`{"scores":{},"tree_sizes":${rankMap(naive.sizes())},"current_size":${total(naive)}}`);
        break;
      default:
        throw new Error(`the naive model does not answer ${role.what}`);
    }
  }
  return answers;
}

function total(naive: NaiveIndex): number {
  let n = 0;
  for (const v of naive.sizes().values()) n += v;
  return n;
}

function rankMap(map: Map<string, number>): string {
  const entries = [...map].map(([k, v]) => {
    const [w, dp] = k.split(':');
    return { w: BigInt(w!), dp: Number(dp), k, v };
  });
  entries.sort((a, b) => (a.w !== b.w ? (a.w < b.w ? -1 : 1) : a.dp - b.dp));
  return `{${entries.map((e) => `${JSON.stringify(e.k)}:${e.v}`).join(',')}}`;
}
