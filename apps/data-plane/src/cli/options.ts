import { defaultRouterConfig, type RouterConfig, routerConfigError } from '@kvindex/router';

/**
 * The data plane's flags: NVIDIA Dynamo 1.6's `python -m dynamo.indexer` names and defaults, plus
 * ours. Every flag also reads an environment variable (KVINDEX_<FLAG>), flags winning.
 */

export interface WorkerSpec {
  instanceId: bigint;
  dpRank: number;
  endpoint: string;
}

export interface DataPlaneOptions {
  host: string;
  port: number;
  blockSize: number | undefined;
  workers: WorkerSpec[];
  modelName: string;
  routingGroup: string;
  peers: string[];
  accessLog: string | undefined;
  accessLogLocalTime: boolean;
  traceIdHeader: string;
  natsUrl: string | undefined;
  natsSubjects: string[];
  snapshotDir: string | undefined;
  snapshotIntervalSec: number;
  logLevel: string;
  ingestSliceMs: number;
  minInitialWorkers: number;
  demo: 'auto' | 'on' | 'off';
  /** KV-aware routing (/v1/route), Dynamo's router flags. */
  router: RouterConfig;
  /** Accepted for Dynamo compatibility: the router keeps no state across restarts to reset. */
  routerResetStates: boolean;
  /** Answer Dynamo's kv_indexer_query over NATS (--nats-url) from the --model-name partition. */
  serveIndexer: boolean;
  /** The query subject; default namespace.{ns}.component.{component}.kv_indexer_query of the first --nats-subjects entry. */
  indexerQuerySubject: string | undefined;
  /** Route on overlaps from another data plane: an http(s) URL or a NATS subject. */
  useRemoteIndexer: string | undefined;
  help: boolean;
}

interface FlagSpec {
  name: string;
  env: string;
  arg?: string;
  help: string;
  hidden?: boolean;
  boolean?: boolean;
  apply: (o: DataPlaneOptions, value: string) => void;
}

export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionsError';
  }
}

function int(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
    throw new OptionsError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return n;
}

function num(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new OptionsError(`--${name} must be a finite, non-negative number, got ${JSON.stringify(value)}`);
  }
  return n;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `"id[:dp_rank]=tcp://host:port,..."`, Dynamo's --workers form. */
export function parseWorkers(value: string): WorkerSpec[] {
  return list(value).map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0)
      throw new OptionsError(`--workers entry ${JSON.stringify(entry)} must be id[:dp_rank]=endpoint`);
    const [id, rank, extra] = entry.slice(0, eq).split(':');
    if (extra !== undefined || !/^\d+$/.test(id ?? '') || (rank !== undefined && !/^\d+$/.test(rank))) {
      throw new OptionsError(
        `--workers entry ${JSON.stringify(entry)}: id and dp_rank must be unsigned integers`,
      );
    }
    const instanceId = BigInt(id!);
    if (instanceId >= 1n << 64n)
      throw new OptionsError(`--workers entry ${JSON.stringify(entry)}: id exceeds u64`);
    return {
      instanceId,
      dpRank: rank === undefined ? 0 : int('workers dp_rank', rank, 0, 2 ** 32 - 1),
      endpoint: entry.slice(eq + 1).trim(),
    };
  });
}

const FLAGS: FlagSpec[] = [
  {
    name: 'host',
    env: 'KVINDEX_HOST',
    arg: 'ADDR',
    help: 'address to bind (default 0.0.0.0, as Dynamo)',
    apply: (o, v) => {
      o.host = v;
    },
  },
  {
    name: 'port',
    env: 'KVINDEX_PORT',
    arg: 'N',
    help: 'HTTP port (default 8090)',
    apply: (o, v) => {
      o.port = int('port', v, 0, 65535);
    },
  },
  {
    name: 'block-size',
    env: 'KVINDEX_BLOCK_SIZE',
    arg: 'N',
    help: 'tokens per KV block of --workers (required with it)',
    apply: (o, v) => {
      o.blockSize = int('block-size', v, 1, 2 ** 32 - 1);
    },
  },
  {
    name: 'workers',
    env: 'KVINDEX_WORKERS',
    arg: 'LIST',
    help: '"id[:dp_rank]=tcp://host:port,..." engines to subscribe at start',
    apply: (o, v) => {
      o.workers = parseWorkers(v);
    },
  },
  {
    name: 'model-name',
    env: 'KVINDEX_MODEL_NAME',
    arg: 'NAME',
    help: 'model of --workers (default "default")',
    apply: (o, v) => {
      o.modelName = v;
    },
  },
  {
    name: 'routing-group',
    env: 'KVINDEX_ROUTING_GROUP',
    arg: 'NAME',
    help: 'routing group of --workers (default "default")',
    apply: (o, v) => {
      o.routingGroup = v;
    },
  },
  {
    name: 'tenant-id',
    env: 'KVINDEX_TENANT_ID',
    arg: 'ID',
    help: 'accepted and ignored, as Dynamo',
    hidden: true,
    apply: () => {},
  },
  {
    name: 'peers',
    env: 'KVINDEX_PEERS',
    arg: 'URLS',
    help: 'comma-separated peer indexer URLs to recover from at start',
    apply: (o, v) => {
      o.peers = list(v);
    },
  },
  {
    name: 'access-log',
    env: 'KVINDEX_ACCESS_LOG',
    arg: 'FILE',
    help: 'append one JSON line per HTTP request to FILE',
    apply: (o, v) => {
      o.accessLog = v;
    },
  },
  {
    name: 'access-log-local-time',
    env: 'KVINDEX_ACCESS_LOG_LOCAL_TIME',
    boolean: true,
    help: 'access log timestamps in local time instead of UTC',
    apply: (o) => {
      o.accessLogLocalTime = true;
    },
  },
  {
    name: 'trace-id-header',
    env: 'KVINDEX_TRACE_ID_HEADER',
    arg: 'NAME',
    help: 'request header carrying the trace id (default x-trace-id)',
    apply: (o, v) => {
      o.traceIdHeader = v.toLowerCase();
    },
  },
  {
    name: 'nats-url',
    env: 'KVINDEX_NATS_URL',
    arg: 'URL',
    help: 'subscribe to the Dynamo NATS event plane at URL',
    apply: (o, v) => {
      o.natsUrl = v;
    },
  },
  {
    name: 'nats-subjects',
    env: 'KVINDEX_NATS_SUBJECTS',
    arg: 'LIST',
    help: '"namespace/component,..." to subscribe on --nats-url (default dynamo/backend)',
    apply: (o, v) => {
      o.natsSubjects = list(v);
    },
  },
  {
    name: 'snapshot-dir',
    env: 'KVINDEX_SNAPSHOT_DIR',
    arg: 'DIR',
    help: 'write periodic atomic snapshots to DIR and load the newest at start',
    apply: (o, v) => {
      o.snapshotDir = v;
    },
  },
  {
    name: 'snapshot-interval',
    env: 'KVINDEX_SNAPSHOT_INTERVAL',
    arg: 'SECONDS',
    help: 'seconds between snapshots with --snapshot-dir (default 60)',
    apply: (o, v) => {
      o.snapshotIntervalSec = int('snapshot-interval', v, 1, 86_400);
    },
  },
  {
    name: 'log-level',
    env: 'KVINDEX_LOG_LEVEL',
    arg: 'LEVEL',
    help: 'trace|debug|info|warn|error (default info)',
    apply: (o, v) => {
      o.logLevel = v;
    },
  },
  {
    name: 'ingest-slice-ms',
    env: 'KVINDEX_INGEST_SLICE_MS',
    arg: 'MS',
    help: 'longest stretch of event ingestion before queries get the thread (default 2; 0 = apply on arrival)',
    apply: (o, v) => {
      o.ingestSliceMs = int('ingest-slice-ms', v, 0, 60_000);
    },
  },
  {
    name: 'min-initial-workers',
    env: 'DYN_ROUTER_MIN_INITIAL_WORKERS',
    arg: 'N',
    help: "delay serving HTTP until N instances are registered (Dynamo's env name)",
    apply: (o, v) => {
      o.minInitialWorkers = int('min-initial-workers', v, 0, 1_000_000);
    },
  },
  {
    name: 'demo',
    env: 'KVINDEX_DEMO',
    arg: 'auto|on|off',
    help: 'simulated 4-worker fleet: auto = when no workers and no NATS are configured (default)',
    apply: (o, v) => {
      if (v !== 'auto' && v !== 'on' && v !== 'off')
        throw new OptionsError(`--demo must be auto, on or off, got ${JSON.stringify(v)}`);
      o.demo = v;
    },
  },
  {
    name: 'kv-overlap-score-weight',
    env: 'KVINDEX_KV_OVERLAP_SCORE_WEIGHT',
    arg: 'W',
    help: '/v1/route: weight of prefill blocks against decode blocks (default 1.0; 0 = load only)',
    apply: (o, v) => {
      o.router.overlapScoreWeight = num('kv-overlap-score-weight', v);
    },
  },
  {
    name: 'router-temperature',
    env: 'KVINDEX_ROUTER_TEMPERATURE',
    arg: 'T',
    help: '/v1/route: 0 picks the lowest cost (default); T > 0 samples softmax(-cost/T)',
    apply: (o, v) => {
      o.router.temperature = num('router-temperature', v);
    },
  },
  {
    name: 'no-kv-events',
    env: 'KVINDEX_NO_KV_EVENTS',
    boolean: true,
    help: 'approximate mode: no engine events; /v1/route learns from its own decisions (TTL, pruning)',
    apply: (o) => {
      o.router.useKvEvents = false;
    },
  },
  {
    name: 'no-track-active-blocks',
    env: 'KVINDEX_NO_TRACK_ACTIVE_BLOCKS',
    boolean: true,
    help: '/v1/route: ignore in-flight load, route on cached prefixes only',
    apply: (o) => {
      o.router.trackActiveBlocks = false;
    },
  },
  {
    name: 'router-ttl-secs',
    env: 'KVINDEX_ROUTER_TTL_SECS',
    arg: 'S',
    help: 'approximate mode: seconds a routed prefix is assumed cached (default 120)',
    apply: (o, v) => {
      o.router.ttlSecs = num('router-ttl-secs', v);
    },
  },
  {
    name: 'router-max-tree-size',
    env: 'KVINDEX_ROUTER_MAX_TREE_SIZE',
    arg: 'N',
    help: 'approximate mode: blocks held before pruning (default 1048576)',
    apply: (o, v) => {
      o.router.maxTreeSize = int('router-max-tree-size', v, 1, 2 ** 32);
    },
  },
  {
    name: 'router-prune-target-ratio',
    env: 'KVINDEX_ROUTER_PRUNE_TARGET_RATIO',
    arg: 'R',
    help: 'approximate mode: pruning keeps this fraction of the max tree size (default 0.8)',
    apply: (o, v) => {
      const r = num('router-prune-target-ratio', v);
      if (r <= 0 || r > 1) throw new OptionsError(`--router-prune-target-ratio must be in (0, 1], got ${v}`);
      o.router.pruneTargetRatio = r;
    },
  },
  {
    name: 'router-reset-states',
    env: 'KVINDEX_ROUTER_RESET_STATES',
    boolean: true,
    help: 'accepted for Dynamo compatibility; routing state is never persisted, so each start is fresh',
    apply: (o) => {
      o.routerResetStates = true;
    },
  },
  {
    name: 'router-queue-threshold',
    env: 'KVINDEX_ROUTER_QUEUE_THRESHOLD',
    arg: 'F',
    help: '/v1/route: park requests (fcfs) while every worker has more than F x its batch capacity in prefill',
    apply: (o, v) => {
      o.router.queueThreshold = num('router-queue-threshold', v);
    },
  },
  {
    name: 'router-max-num-batched-tokens',
    env: 'KVINDEX_ROUTER_MAX_NUM_BATCHED_TOKENS',
    arg: 'N',
    help: "a worker's batch capacity for --router-queue-threshold (default 10000000, Dynamo's when unknown)",
    apply: (o, v) => {
      o.router.maxNumBatchedTokens = int('router-max-num-batched-tokens', v, 1, 2 ** 32);
    },
  },
  {
    name: 'serve-indexer',
    env: 'KVINDEX_SERVE_INDEXER',
    boolean: true,
    help: "answer Dynamo's kv_indexer_query requests over --nats-url from the --model-name partition",
    apply: (o) => {
      o.serveIndexer = true;
    },
  },
  {
    name: 'indexer-query-subject',
    env: 'KVINDEX_INDEXER_QUERY_SUBJECT',
    arg: 'SUBJECT',
    help: 'subject of --serve-indexer (default namespace.{ns}.component.{component}.kv_indexer_query)',
    apply: (o, v) => {
      o.indexerQuerySubject = v;
    },
  },
  {
    name: 'use-remote-indexer',
    env: 'KVINDEX_USE_REMOTE_INDEXER',
    arg: 'URL|SUBJECT',
    help: '/v1/route asks this indexer (http URL, or NATS subject on --nats-url) instead of holding one',
    apply: (o, v) => {
      o.useRemoteIndexer = v;
    },
  },
  {
    name: 'help',
    env: '',
    boolean: true,
    help: 'print this help',
    apply: (o) => {
      o.help = true;
    },
  },
];

export function defaultOptions(): DataPlaneOptions {
  return {
    host: '0.0.0.0',
    port: 8090,
    blockSize: undefined,
    workers: [],
    modelName: 'default',
    routingGroup: 'default',
    peers: [],
    accessLog: undefined,
    accessLogLocalTime: false,
    traceIdHeader: 'x-trace-id',
    natsUrl: undefined,
    natsSubjects: ['dynamo/backend'],
    snapshotDir: undefined,
    snapshotIntervalSec: 60,
    logLevel: 'info',
    ingestSliceMs: 2,
    minInitialWorkers: 0,
    demo: 'auto',
    router: defaultRouterConfig(),
    routerResetStates: false,
    serveIndexer: false,
    indexerQuerySubject: undefined,
    useRemoteIndexer: undefined,
    help: false,
  };
}

export function parseOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): DataPlaneOptions {
  const o = defaultOptions();
  for (const flag of FLAGS) {
    const v = flag.env ? env[flag.env] : undefined;
    if (v === undefined || v === '') continue;
    if (flag.boolean) {
      if (v === '1' || v.toLowerCase() === 'true') flag.apply(o, v);
    } else flag.apply(o, v);
  }
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '-h') {
      o.help = true;
      continue;
    }
    if (!token.startsWith('--'))
      throw new OptionsError(`unexpected argument ${JSON.stringify(token)} (see --help)`);
    const eq = token.indexOf('=');
    const name = token.slice(2, eq === -1 ? undefined : eq);
    const flag = FLAGS.find((f) => f.name === name);
    if (!flag) throw new OptionsError(`unknown flag --${name} (see --help)`);
    if (flag.boolean) {
      if (eq !== -1) throw new OptionsError(`--${name} takes no value`);
      flag.apply(o, '');
      continue;
    }
    const value = eq !== -1 ? token.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new OptionsError(`--${name} needs a value`);
    flag.apply(o, value);
  }
  if (o.workers.length > 0 && o.blockSize === undefined)
    throw new OptionsError('--block-size is required with --workers');
  const routerProblem = routerCombinationError(o);
  if (routerProblem) throw new OptionsError(routerProblem);
  return o;
}

/** Router flag combinations that cannot mean what the user wants. */
function routerCombinationError(o: DataPlaneOptions): string | undefined {
  const r = o.router;
  if (!r.useKvEvents && o.natsUrl !== undefined)
    return '--no-kv-events (approximate mode, no engine events) contradicts --nats-url (an event feed)';
  if (!r.useKvEvents && r.overlapScoreWeight === 0)
    return '--no-kv-events with --kv-overlap-score-weight 0: the approximate index would be built and never read';
  if (o.serveIndexer && o.natsUrl === undefined) return '--serve-indexer needs --nats-url';
  if (o.indexerQuerySubject !== undefined && !o.serveIndexer)
    return '--indexer-query-subject only applies with --serve-indexer';
  if (o.useRemoteIndexer !== undefined) {
    if (!r.useKvEvents)
      return '--use-remote-indexer contradicts --no-kv-events: the remote indexer is the event-fed index';
    if (o.serveIndexer) return '--use-remote-indexer holds no index, so it cannot --serve-indexer';
    if (r.overlapScoreWeight === 0)
      return '--use-remote-indexer with --kv-overlap-score-weight 0: the remote overlaps would never be read';
    if (!/^https?:\/\//.test(o.useRemoteIndexer) && o.natsUrl === undefined)
      return '--use-remote-indexer with a NATS subject needs --nats-url';
  }
  if (!r.trackActiveBlocks && r.queueThreshold !== undefined)
    return '--router-queue-threshold needs the active prefill tokens that --no-track-active-blocks turns off';
  const invalid = routerConfigError(r);
  return invalid ? `invalid router configuration: ${invalid}` : undefined;
}

export function helpText(): string {
  const rows = FLAGS.filter((f) => !f.hidden).map((f) => {
    const left = `  --${f.name}${f.arg ? ` ${f.arg}` : ''}`;
    const env = f.env ? ` [env ${f.env}]` : '';
    return `${left.padEnd(34)} ${f.help}${env}`;
  });
  return [
    'kvindex-data-plane: a KV-cache indexer for LLM fleets, a drop-in for NVIDIA Dynamo 1.6 `python -m dynamo.indexer`.',
    '',
    'usage: kvindex-data-plane [flags]',
    '',
    ...rows,
    '',
    'With no --workers and no --nats-url it runs a simulated 4-worker fleet on loopback (see --demo).',
  ].join('\n');
}
