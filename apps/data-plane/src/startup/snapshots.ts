import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonExact, stringifyJsonExact } from '@kvindex/core';
import { dumpRegistry, type LoadResult, loadDump } from '../service/dump.ts';
import type { WorkerRegistry } from '../service/registry.ts';

/**
 * `--snapshot-dir`: the index written periodically as a dump document, atomically (temp file then
 * rename, so a crash never leaves a torn snapshot), the newest few kept, the newest loaded at start.
 */

const PREFIX = 'kvindex-snapshot-';
const SUFFIX = '.json';
const KEEP = 3;

export interface SnapshotFile {
  format: 'kvindex-snapshot/1';
  created_at: string;
  dump: unknown;
}

function snapshotName(ms: number): string {
  // Fixed width keeps lexical order equal to time order.
  return `${PREFIX}${String(ms).padStart(15, '0')}${SUFFIX}`;
}

async function snapshotFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.startsWith(PREFIX) && f.endsWith(SUFFIX)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function writeSnapshot(
  dir: string,
  registry: WorkerRegistry,
  now = Date.now(),
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const body: SnapshotFile = {
    format: 'kvindex-snapshot/1',
    created_at: new Date(now).toISOString(),
    dump: dumpRegistry(registry),
  };
  const final = join(dir, snapshotName(now));
  const tmp = `${final}.${process.pid}.tmp`;
  await writeFile(tmp, stringifyJsonExact(body));
  await rename(tmp, final);
  const files = await snapshotFiles(dir);
  for (const old of files.slice(0, Math.max(0, files.length - KEEP)))
    await rm(join(dir, old), { force: true });
  return final;
}

/** Loads the newest readable snapshot; a corrupt one is skipped in favour of the one before. */
export async function loadNewestSnapshot(
  dir: string,
  registry: WorkerRegistry,
): Promise<{ file: string; result: LoadResult } | undefined> {
  const files = (await snapshotFiles(dir)).reverse();
  for (const f of files) {
    try {
      const doc = parseJsonExact(await readFile(join(dir, f), 'utf8')) as unknown as SnapshotFile;
      if (doc === null || typeof doc !== 'object' || doc.format !== 'kvindex-snapshot/1') continue;
      return { file: f, result: loadDump(registry, doc.dump) };
    } catch {
      // Try the previous one.
    }
  }
  return undefined;
}
