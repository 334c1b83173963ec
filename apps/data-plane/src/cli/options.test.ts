import { describe, expect, it } from 'vitest';
import { helpText, OptionsError, parseOptions, parseWorkers } from './options.ts';

describe('data-plane options', () => {
  it("uses Dynamo's defaults", () => {
    const o = parseOptions([], {});
    expect(o).toMatchObject({
      port: 8090,
      modelName: 'default',
      routingGroup: 'default',
      traceIdHeader: 'x-trace-id',
    });
  });
  it('parses --workers exactly, with u64 ids', () => {
    expect(parseWorkers('1=tcp://h:5557, 18446744073709551615:1=tcp://h:5558')).toEqual([
      { instanceId: 1n, dpRank: 0, endpoint: 'tcp://h:5557' },
      { instanceId: 18446744073709551615n, dpRank: 1, endpoint: 'tcp://h:5558' },
    ]);
  });
  it.each(['x=tcp://h:1', '1:2:3=tcp://h:1', 'tcp://h:1', '18446744073709551616=tcp://h:1'])(
    'refuses the worker entry %j',
    (entry) => expect(() => parseWorkers(entry)).toThrow(OptionsError),
  );
  it('requires --block-size with --workers', () => {
    expect(() => parseOptions(['--workers', '1=tcp://h:1'], {})).toThrow(/--block-size is required/);
    expect(parseOptions(['--workers=1=tcp://h:1', '--block-size', '16'], {}).blockSize).toBe(16);
  });
  it('reads environment variables, flags winning', () => {
    const env = { KVINDEX_PORT: '9000', DYN_ROUTER_MIN_INITIAL_WORKERS: '2', KVINDEX_MODEL_NAME: 'env' };
    expect(parseOptions(['--model-name', 'flag'], env)).toMatchObject({
      port: 9000,
      minInitialWorkers: 2,
      modelName: 'flag',
    });
  });
  it('accepts and ignores --tenant-id, hidden from --help', () => {
    expect(() => parseOptions(['--tenant-id', 't'], {})).not.toThrow();
    expect(helpText()).not.toContain('tenant-id');
  });
  it.each([['--port', 'x'], ['--port', '70000'], ['--bogus'], ['stray'], ['--port'], ['--demo', 'maybe']])(
    'refuses %j with a clear message',
    (...argv) => expect(() => parseOptions(argv, {})).toThrow(OptionsError),
  );
  it('documents every flag it takes', () => {
    for (const flag of [
      '--port',
      '--block-size',
      '--workers',
      '--peers',
      '--access-log',
      '--nats-url',
      '--snapshot-dir',
      '--snapshot-interval',
      '--ingest-slice-ms',
      '--demo',
    ]) {
      expect(helpText()).toContain(flag);
    }
  });
  it('reads the snapshot interval and ingest slice, 0 meaning apply on arrival', () => {
    expect(parseOptions([], {})).toMatchObject({ snapshotIntervalSec: 60, ingestSliceMs: 2 });
    expect(parseOptions(['--snapshot-interval', '5', '--ingest-slice-ms', '0'], {})).toMatchObject({
      snapshotIntervalSec: 5,
      ingestSliceMs: 0,
    });
    expect(() => parseOptions(['--snapshot-interval', '0'], {})).toThrow(OptionsError);
  });
});
