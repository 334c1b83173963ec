import {
  DecodeError,
  isStored,
  JsonSyntaxError,
  parseJsonExact,
  type RouterEvent,
  readArray,
  readObject,
  readU32,
  readU64,
  routerEventFromValue,
  routerEventToValue,
  stringifyJsonExact,
} from '@kvindex/core';
import { DYNAMO_STATUS_NAMES } from './apply-status.ts';
import { KvIndex } from './kv-index.ts';
import { workerKeyText } from './worker-key.ts';

const COMMANDS = [
  'event',
  'find',
  'dump',
  'remove_worker',
  'remove_worker_dp_rank',
  'clear_all_blocks',
] as const;
const MODIFIERS = ['early_exit', 'tree_sizes'] as const;

/**
 * The conform protocol (issue 9): one JSON command in, one JSON answer out, on an index with
 * Dynamo's RadixTree semantics. The same protocol is spoken by test/oracle over Dynamo's crate,
 * so both outputs diff directly. Malformed input is answered with `bad_input`, never thrown.
 */
export class ConformSession {
  readonly index = new KvIndex();

  /** The answer line for one input line, or null for blank and `#` comment lines. */
  handle(line: string): string | null {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return null;
    try {
      return this.command(text);
    } catch (err) {
      if (err instanceof DecodeError || err instanceof JsonSyntaxError) return badInput(err.message);
      return badInput(`internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private command(text: string): string {
    const cmd = readObject(parseJsonExact(text), '');
    // As serde's Option: a null field is an absent one.
    for (const k of Object.keys(cmd)) if (cmd[k] === null) delete cmd[k];
    const keys = Object.keys(cmd);
    const unknown = keys.find(
      (k) => !(COMMANDS as readonly string[]).includes(k) && !(MODIFIERS as readonly string[]).includes(k),
    );
    if (unknown !== undefined) return badInput(`unknown field ${JSON.stringify(unknown)}`);
    const given = COMMANDS.filter((c) => cmd[c] !== undefined);
    if (given.length !== 1) return badInput(`expected exactly one of ${COMMANDS.join(', ')}`);
    if (given[0] !== 'find' && (cmd.early_exit !== undefined || cmd.tree_sizes !== undefined)) {
      return badInput('early_exit and tree_sizes only go with find');
    }
    switch (given[0]) {
      case 'event': {
        const event = routerEventFromValue(cmd.event, 'event');
        return status(DYNAMO_STATUS_NAMES[this.index.applyEvent(event)]);
      }
      case 'find': {
        const hashes = readArray(cmd.find, 'find').map((h, i) => readU64(h, `find[${i}]`));
        const earlyExit = readOptionalBool(cmd.early_exit, 'early_exit') ?? false;
        const withSizes = readOptionalBool(cmd.tree_sizes, 'tree_sizes') ?? true;
        return this.find(hashes, earlyExit, withSizes);
      }
      case 'dump':
        if (cmd.dump !== true) return badInput('dump must be true');
        return this.dump();
      case 'remove_worker':
        this.index.removeWorker(readU64(cmd.remove_worker, 'remove_worker'));
        return status('ok');
      case 'remove_worker_dp_rank': {
        const pair = readArray(cmd.remove_worker_dp_rank, 'remove_worker_dp_rank');
        if (pair.length !== 2) return badInput('remove_worker_dp_rank: expected [worker_id, dp_rank]');
        this.index.removeWorkerDpRank(
          readU64(pair[0], 'remove_worker_dp_rank[0]'),
          readU32(pair[1], 'remove_worker_dp_rank[1]'),
        );
        return status('ok');
      }
      default:
        this.index.clearAllBlocks(readU64(cmd.clear_all_blocks, 'clear_all_blocks'));
        return status('ok');
    }
  }

  private find(hashes: bigint[], earlyExit: boolean, withSizes: boolean): string {
    const m = this.index.findMatches(hashes, { earlyExit });
    const scores: [bigint, number, number][] = [];
    for (let i = 0; i < m.count; i++) scores.push([m.workerIds[i]!, m.dpRanks[i]!, m.scores[i]!]);
    let out = `{"scores":${rankMap(scores)}`;
    if (withSizes) {
      out += `,"tree_sizes":${rankMap(this.index.treeSizes().map((r) => [r.worker_id, r.dp_rank, r.blocks]))}`;
    }
    return `${out},"current_size":${this.index.currentSize}}`;
  }

  private dump(): string {
    const events = this.index.dump();
    return `{"events":${stringifyJsonExact(events.map(routerEventToValue))},"blocks":${stringifyJsonExact(dumpBlocks(events))}}`;
  }
}

/** The order-free form of a dump: [worker, dp, parent|null, block_hash, tokens_hash], sorted. */
export function dumpBlocks(events: readonly RouterEvent[]): (bigint | number | null)[][] {
  const rows: [bigint, number, bigint | null, bigint, bigint][] = [];
  for (const ev of events) {
    if (!isStored(ev.event.data)) continue;
    let parent = ev.event.data.stored.parent_hash;
    for (const b of ev.event.data.stored.blocks) {
      rows.push([ev.worker_id, ev.event.dp_rank, parent, b.block_hash, b.tokens_hash]);
      parent = b.block_hash;
    }
  }
  rows.sort(compareRows);
  return rows;
}

function compareRows(a: [bigint, number, bigint | null, bigint, bigint], b: typeof a): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] - b[1];
  if (a[2] !== b[2]) {
    if (a[2] === null) return -1;
    if (b[2] === null) return 1;
    return a[2] < b[2] ? -1 : 1;
  }
  if (a[3] !== b[3]) return a[3] < b[3] ? -1 : 1;
  if (a[4] !== b[4]) return a[4] < b[4] ? -1 : 1;
  return 0;
}

function rankMap(entries: [bigint, number, number][]): string {
  entries.sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] - b[1]));
  return `{${entries.map(([w, dp, n]) => `${JSON.stringify(workerKeyText(w, dp))}:${n}`).join(',')}}`;
}

function readOptionalBool(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new DecodeError(field, 'expected a boolean');
  return value;
}

function status(name: string): string {
  return `{"status":${JSON.stringify(name)}}`;
}

function badInput(error: string): string {
  return `{"status":"bad_input","error":${JSON.stringify(error)}}`;
}
