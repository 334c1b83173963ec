import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessLog, formatAccessLine, formatTimestamp } from './access-log.ts';

describe('access log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvindex-access-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const entry = {
    traceId: 't1',
    method: 'POST',
    path: '/query',
    model: 'm',
    status: 200,
    durationMs: 0.8125,
    startedAt: Date.UTC(2026, 10, 23, 6, 44, 40, 879),
  };

  it("writes Dynamo's JSON line, fields in order", () => {
    expect(formatAccessLine(entry, false)).toBe(
      '{"ts":"2026-11-23T06:44:40.879Z","trace_id":"t1","method":"POST","path":"/query","model":"m","status":200,"duration_ms":0.8125}',
    );
  });

  it('formats local time as RFC 3339 with an offset', () => {
    expect(formatTimestamp(entry.startedAt, true)).toMatch(/^2026-11-2\dT\d\d:\d\d:40\.879[+-]\d\d:\d\d$/);
  });

  it('reopens for rotation: later lines go to the new file', async () => {
    const path = join(dir, 'access.log');
    const log = new AccessLog(path, false);
    log.write(entry);
    await new Promise((r) => setTimeout(r, 50));
    renameSync(path, `${path}.1`);
    log.reopen();
    log.write({ ...entry, traceId: 't2' });
    await log.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(`${path}.1`, 'utf8')).toContain('"trace_id":"t1"');
    expect(readFileSync(path, 'utf8')).toContain('"trace_id":"t2"');
    expect(readFileSync(path, 'utf8')).not.toContain('"trace_id":"t1"');
  });
});
