import { describe, expect, it } from 'vitest';
import { helpText, OptionsError, parseOptions } from './options.ts';

describe('kvindex-controller options', () => {
  it('has client-go leader-election defaults and takes flags over environment', () => {
    const o = parseOptions(['--indexer-image', 'img:1'], {});
    expect(o).toMatchObject({
      indexerImage: 'img:1',
      leaderElect: true,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      metricsPort: 8080,
    });
    const env = { KVINDEX_DATA_PLANE_IMAGE: 'env:1', KVINDEX_LOG_LEVEL: 'debug', KVINDEX_POD_NAME: 'pod-0' };
    expect(parseOptions([], env)).toMatchObject({
      indexerImage: 'env:1',
      logLevel: 'debug',
      identity: 'pod-0',
    });
    expect(parseOptions(['--indexer-image=flag:1', '--leader-elect=false'], env)).toMatchObject({
      indexerImage: 'flag:1',
      leaderElect: false,
    });
  });

  it('rejects what it cannot run with, naming the flag', () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /--indexer-image/],
      [['--indexer-image', 'i', '--bogus'], /unknown flag --bogus/],
      [['--indexer-image', 'i', '--workers', '0'], /--workers must be a number/],
      [['--indexer-image', 'i', '--renew-deadline', '20'], /shorter than --lease-duration/],
      [['--indexer-image', 'i', '--leader-elect=maybe'], /--leader-elect must be true or false/],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseOptions(argv, {}), argv.join(' ')).toThrow(OptionsError);
      expect(() => parseOptions(argv, {})).toThrow(message);
    }
  });

  it('documents every flag with its environment variable in --help', () => {
    expect(parseOptions(['--help'], {}).help).toBe(true);
    const text = helpText();
    for (const flag of ['--kubeconfig', '--indexer-image', '--lease-duration', '--resync', '--health-port'])
      expect(text).toContain(flag);
    expect(text).toContain('env KVINDEX_DATA_PLANE_IMAGE');
  });
});
