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
  logLevel: string;
  minInitialWorkers: number;
  demo: 'auto' | 'on' | 'off';
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
    name: 'log-level',
    env: 'KVINDEX_LOG_LEVEL',
    arg: 'LEVEL',
    help: 'trace|debug|info|warn|error (default info)',
    apply: (o, v) => {
      o.logLevel = v;
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
    logLevel: 'info',
    minInitialWorkers: 0,
    demo: 'auto',
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
  return o;
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
