/**
 * Where the kvindex data plane currently answers differently from Dynamo 1.6.1 WITHOUT that being
 * a deliberate difference: bugs the suite found, or differences the issue promises and the service
 * does not implement yet. Each is run as an expected failure (vitest `it.fails`), so the suite
 * stays green while it lasts and turns red the moment it is fixed — then delete the entry.
 * Keys are "<file>: <scenario name>".
 */
export const KVINDEX_KNOWN_GAPS: Readonly<Record<string, string>> = {};

/**
 * Gaps that show only sometimes (a race), so they cannot run as expected failures: the scenario
 * accepts Dynamo's answer or the named symptom.
 */
export const KVINDEX_FLAKY_GAPS: Readonly<Record<string, string>> = {
  'http: query body above 8 MiB':
    'Dynamo drains the body and answers 413; kvindex answers 413 but closes the connection before reading the body, so a client still writing often sees EPIPE/ECONNRESET instead of the 413',
};

let announced = false;

/** The gap for a kvindex scenario, announced loudly once per file that hits any. */
export function kvindexGap(key: string): string | undefined {
  const gap = KVINDEX_KNOWN_GAPS[key];
  if ((gap !== undefined || KVINDEX_FLAKY_GAPS[key] !== undefined) && !announced) {
    announced = true;
    console.warn(
      `\n*** CONFORMANCE: kvindex has known gaps vs Dynamo 1.6.1 (run as expected failures, or tolerated when racy):\n${Object.entries(
        { ...KVINDEX_KNOWN_GAPS, ...KVINDEX_FLAKY_GAPS },
      )
        .map(([k, v]) => `  - ${k}: ${v}`)
        .join('\n')}\n`,
    );
  }
  return gap;
}
