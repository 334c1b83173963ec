import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseJsonExact, type RouterEvent, readObject, routerEventFromValue } from '@kvindex/core';
import { highHalf, lowHalf } from '@kvindex/indexer';

/** One request of a replay workload (requests.jsonl), its query already split into u32 halves. */
export interface WorkloadRequest {
  req: number;
  /** "<worker>:<dp>" → expected blocks (≥ 1 only). */
  expected: Map<string, number>;
  eventsStart: number;
  eventsEnd: number;
  queryLo: Uint32Array;
  queryHi: Uint32Array;
}

export async function readRequests(dir: string): Promise<WorkloadRequest[]> {
  const out: WorkloadRequest[] = [];
  for await (const line of lines(join(dir, 'requests.jsonl'))) {
    const o = readObject(parseJsonExact(line), 'request');
    const hashes = o.local_hashes as (number | bigint)[];
    const queryLo = new Uint32Array(hashes.length);
    const queryHi = new Uint32Array(hashes.length);
    hashes.forEach((h, i) => {
      const b = BigInt(h);
      queryLo[i] = lowHalf(b);
      queryHi[i] = highHalf(b);
    });
    const expected = new Map<string, number>();
    for (const [k, v] of Object.entries(o.expected_hits as Record<string, number>)) {
      if (v >= 1) expected.set(k.includes(':') ? k : `${k}:0`, v);
    }
    const [start, end] = o.events as [number, number];
    out.push({
      req: Number(o.req ?? out.length),
      expected,
      eventsStart: start,
      eventsEnd: end,
      queryLo,
      queryHi,
    });
  }
  return out;
}

/** The workload's events in chunks (bounded memory: 7.5M events as objects would not fit comfortably). */
export async function* eventChunks(dir: string, chunkSize = 50_000): AsyncGenerator<RouterEvent[]> {
  let chunk: RouterEvent[] = [];
  for await (const line of lines(join(dir, 'events.jsonl'))) {
    const o = readObject(parseJsonExact(line), 'event line');
    chunk.push(routerEventFromValue(o.event, 'event'));
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

async function* lines(path: string): AsyncGenerator<string> {
  const rl = createInterface({
    input: createReadStream(path, { highWaterMark: 1 << 20 }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of rl) if (line.trim() !== '') yield line;
}

export function eventBlocks(event: RouterEvent): number {
  const data = event.event.data;
  if (data === 'cleared') return 0;
  return 'stored' in data ? data.stored.blocks.length : data.removed.block_hashes.length;
}
