import { describe, expect, it } from 'vitest';
import { helpText, OptionsError, parseOptions } from './options.ts';

describe('router flags', () => {
  it("default to Dynamo's values", () => {
    expect(parseOptions([], {}).router).toMatchObject({
      overlapScoreWeight: 1,
      temperature: 0,
      useKvEvents: true,
      trackActiveBlocks: true,
      ttlSecs: 120,
      maxTreeSize: 1_048_576,
      pruneTargetRatio: 0.8,
      queueThreshold: undefined,
    });
  });

  it('parse every router flag', () => {
    const o = parseOptions(
      [
        '--kv-overlap-score-weight',
        '2.5',
        '--router-temperature=0.7',
        '--no-kv-events',
        '--router-ttl-secs',
        '30',
        '--router-max-tree-size',
        '1000',
        '--router-prune-target-ratio',
        '0.5',
        '--router-reset-states',
        '--router-queue-threshold',
        '4.0',
        '--router-max-num-batched-tokens',
        '8192',
      ],
      {},
    );
    expect(o.router).toMatchObject({
      overlapScoreWeight: 2.5,
      temperature: 0.7,
      useKvEvents: false,
      ttlSecs: 30,
      maxTreeSize: 1000,
      pruneTargetRatio: 0.5,
      queueThreshold: 4,
      maxNumBatchedTokens: 8192,
    });
    expect(o.routerResetStates).toBe(true);
    expect(parseOptions(['--no-track-active-blocks'], {}).router.trackActiveBlocks).toBe(false);
    expect(parseOptions([], { KVINDEX_ROUTER_TEMPERATURE: '0.2' }).router.temperature).toBe(0.2);
  });

  it.each([
    [['--router-temperature', '-1'], /router-temperature/],
    [['--kv-overlap-score-weight', 'abc'], /kv-overlap-score-weight/],
    [['--router-prune-target-ratio', '0'], /prune-target-ratio/],
    [['--router-max-tree-size', '0'], /router-max-tree-size/],
    [['--no-kv-events', '--nats-url', 'nats://127.0.0.1:4222'], /contradicts --nats-url/],
    [['--no-kv-events', '--kv-overlap-score-weight', '0'], /never read/],
    [['--no-track-active-blocks', '--router-queue-threshold', '1'], /--router-queue-threshold needs/],
    [['--serve-indexer'], /--serve-indexer needs --nats-url/],
    [['--indexer-query-subject', 'a.b'], /only applies with --serve-indexer/],
    [['--use-remote-indexer', 'a.b.kv_indexer_query'], /NATS subject needs --nats-url/],
    [['--use-remote-indexer', 'http://h:8090', '--no-kv-events'], /contradicts --no-kv-events/],
    [['--use-remote-indexer', 'http://h:8090', '--kv-overlap-score-weight', '0'], /never be read/],
    [
      [
        '--use-remote-indexer',
        'q.kv_indexer_query',
        '--nats-url',
        'nats://127.0.0.1:4222',
        '--serve-indexer',
      ],
      /cannot --serve-indexer/,
    ],
  ])('refuse %j at start with a clear message', (argv, message) => {
    expect(() => parseOptions(argv, {})).toThrow(OptionsError);
    expect(() => parseOptions(argv, {})).toThrow(message);
  });

  it('take the remote query service flags', () => {
    expect(
      parseOptions(['--nats-url', 'nats://127.0.0.1:4222', '--block-size', '4', '--serve-indexer'], {}),
    ).toMatchObject({ serveIndexer: true, indexerQuerySubject: undefined });
    expect(parseOptions(['--use-remote-indexer', 'http://127.0.0.1:8090'], {}).useRemoteIndexer).toBe(
      'http://127.0.0.1:8090',
    );
  });

  it('are documented in --help', () => {
    for (const flag of [
      '--kv-overlap-score-weight',
      '--router-temperature',
      '--no-kv-events',
      '--no-track-active-blocks',
      '--router-ttl-secs',
      '--router-max-tree-size',
      '--router-prune-target-ratio',
      '--router-reset-states',
      '--router-queue-threshold',
      '--serve-indexer',
      '--indexer-query-subject',
      '--use-remote-indexer',
    ])
      expect(helpText()).toContain(flag);
  });
});
