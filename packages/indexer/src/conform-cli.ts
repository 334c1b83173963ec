#!/usr/bin/env node
/**
 * kvindex-conform: the conform protocol over stdin/stdout, one answer line per command line.
 * Usage: `pnpm --silent conform < commands.jsonl` from the repository root.
 */
import { createInterface } from 'node:readline';
import { ConformSession } from './conform-session.ts';

const session = new ConformSession();
const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
for await (const line of lines) {
  const answer = session.handle(line);
  if (answer !== null) process.stdout.write(`${answer}\n`);
}
