import { ConformSession } from '@kvindex/indexer';
import { generateStream, type StreamOptions, type StreamStep } from '@kvindex/indexer/test-support';
import { type ConformProgram, kvindexProgram, runConform } from './conform-runner.ts';
import { type Divergence, firstDivergence } from './divergence.ts';
import { naiveAnswers } from './naive-answers.ts';
import { type StreamScript, streamScript } from './stream-lines.ts';

export type Reference = { kind: 'oracle'; program: ConformProgram } | { kind: 'naive' };

export interface Finding {
  divergence: Divergence;
  /** The shortest stream found that still shows a divergence, as conform lines. */
  shrunk: string[];
  shrunkDivergence: Divergence;
}

function scriptFor(reference: Reference, steps: readonly StreamStep[]): StreamScript {
  const script = streamScript(steps, { dumps: reference.kind === 'oracle' });
  if (reference.kind === 'oracle') return script;
  // The naive model has no early exit (Dynamo's undercount); those answers are compared only against Dynamo.
  const keep = script.roles.map((r) => r.what !== 'find_early_exit');
  return { lines: script.lines.filter((_, i) => keep[i]), roles: script.roles.filter((_, i) => keep[i]) };
}

async function referenceAnswers(reference: Reference, steps: readonly StreamStep[], script: StreamScript) {
  return reference.kind === 'oracle'
    ? runConform(reference.program, script.lines)
    : naiveAnswers(steps, script);
}

/** Runs a stream through kvindex's conform CLI (a child process) and the reference; returns the first divergence, shrunk. */
export async function checkStream(
  reference: Reference,
  options: StreamOptions,
): Promise<Finding | undefined> {
  const steps = generateStream(options);
  const script = scriptFor(reference, steps);
  const [expected, actual] = await Promise.all([
    referenceAnswers(reference, steps, script),
    runConform(kvindexProgram(), script.lines),
  ]);
  const divergence = firstDivergence(script.roles, expected, actual);
  if (!divergence) return undefined;
  const failing = steps.slice(0, divergence.role.step + 1);
  if (!(await divergesInProcess(reference, failing))) {
    // Only the child process diverges (it would be a CLI or process-level fault): report unshrunk.
    return { divergence, shrunk: scriptFor(reference, failing).lines, shrunkDivergence: divergence };
  }
  const shrunkSteps = await shrink(reference, failing);
  const shrunkScript = scriptFor(reference, shrunkSteps);
  const shrunkDivergence = (await divergesInProcess(reference, shrunkSteps))!;
  // Every op, and the checks of the last step only: the divergence shows there.
  const last = shrunkDivergence.role.step;
  const shrunk = shrunkScript.lines.filter((_, i) => {
    const role = shrunkScript.roles[i]!;
    return role.what === 'op' || role.step === last;
  });
  return { divergence, shrunk, shrunkDivergence };
}

/** Same check with kvindex in process (fast), for shrinking. */
async function divergesInProcess(
  reference: Reference,
  steps: readonly StreamStep[],
): Promise<Divergence | undefined> {
  const script = scriptFor(reference, steps);
  const expected = await referenceAnswers(reference, steps, script);
  const session = new ConformSession();
  const actual = script.lines.map((line) => session.handle(line) ?? '');
  return firstDivergence(script.roles, expected, actual);
}

/** Delta debugging: drop chunks of steps, then single steps, while a divergence remains. */
async function shrink(reference: Reference, failing: StreamStep[]): Promise<StreamStep[]> {
  let steps = failing;
  for (let chunk = Math.max(1, Math.floor(steps.length / 2)); chunk >= 1; chunk = Math.floor(chunk / 2)) {
    let start = 0;
    while (start < steps.length) {
      const candidate = [...steps.slice(0, start), ...steps.slice(start + chunk)];
      const d = candidate.length > 0 ? await divergesInProcess(reference, candidate) : undefined;
      if (d) steps = candidate.slice(0, d.role.step + 1);
      else start += chunk;
    }
    if (chunk === 1) break;
  }
  // Probes that do not matter are dropped too, so the report shows only the answers that differ.
  for (let i = 0; i < steps.length; i++) {
    for (let p = steps[i]!.probes.length - 1; p >= 0; p--) {
      const probes = steps[i]!.probes.filter((_, q) => q !== p);
      const candidate = steps.map((s, j) => (j === i ? { op: s.op, probes } : s));
      if (await divergesInProcess(reference, candidate)) steps = candidate;
    }
  }
  return steps;
}

export function describeFinding(options: StreamOptions, finding: Finding): string {
  const d = finding.shrunkDivergence;
  return [
    `kvindex diverges from the reference on stream ${JSON.stringify(options)}`,
    `first at step ${finding.divergence.role.step} (${finding.divergence.role.what})`,
    `shortest stream found (${finding.shrunk.length} lines; replay with \`pnpm --silent conform\`):`,
    ...finding.shrunk,
    `answer to the ${d.role.what} check of step ${d.role.step} differs:`,
    `  reference: ${d.expected}`,
    `  kvindex:   ${d.actual}`,
  ].join('\n');
}
