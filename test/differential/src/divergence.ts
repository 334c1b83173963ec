import { parseJsonExact, stringifyJsonExact } from '@kvindex/core';
import type { LineRole } from './stream-lines.ts';

export interface Divergence {
  line: number;
  role: LineRole;
  expected: string;
  actual: string;
}

/**
 * The first answer that differs. Dumps are compared by their order-free block set only (Dynamo
 * walks FxHash maps, so event order is arbitrary).
 */
export function firstDivergence(
  roles: readonly LineRole[],
  expected: readonly string[],
  actual: readonly string[],
): Divergence | undefined {
  for (let i = 0; i < roles.length; i++) {
    const role = roles[i]!;
    const e = canonical(role, expected[i]);
    const a = canonical(role, actual[i]);
    if (e !== a) return { line: i, role, expected: e, actual: a };
  }
  return undefined;
}

function canonical(role: LineRole, answer: string | undefined): string {
  if (answer === undefined) return '(no answer)';
  if (role.what !== 'dump') return answer;
  const value = parseJsonExact(answer) as { blocks?: unknown };
  return stringifyJsonExact(value.blocks ?? value);
}
