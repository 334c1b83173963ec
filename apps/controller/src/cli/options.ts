import { hostname } from 'node:os';

// kvindex-controller's flags; each has an environment variable, the flag wins. The chart sets the
// environment (POD_NAME, POD_NAMESPACE from the downward API) and passes the rest as args.

export interface ControllerCliOptions {
  help: boolean;
  kubeconfig: string | undefined;
  indexerImage: string;
  namespace: string | undefined;
  metricsHost: string;
  metricsPort: number;
  healthPort: number | undefined;
  watchInferencePools: boolean;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  resyncMs: number;
  workers: number;
  indexerTimeoutMs: number;
  logLevel: string;
}

export class OptionsError extends Error {}

interface Flag {
  name: string;
  env: string;
  arg: string;
  help: string;
  set: (o: ControllerCliOptions, v: string) => void;
}

function positive(name: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new OptionsError(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function bool(name: string, v: string): boolean {
  if (v === 'true' || v === '1' || v === '') return true;
  if (v === 'false' || v === '0') return false;
  throw new OptionsError(`--${name} must be true or false, got ${JSON.stringify(v)}`);
}

const FLAGS: Flag[] = [
  {
    name: 'kubeconfig',
    env: 'KUBECONFIG',
    arg: 'PATH',
    help: 'kubeconfig file; default: in-cluster service account',
    set: (o, v) => {
      o.kubeconfig = v;
    },
  },
  {
    name: 'indexer-image',
    env: 'KVINDEX_DATA_PLANE_IMAGE',
    arg: 'IMAGE',
    help: 'data-plane image for IndexerDeployments that name none (required)',
    set: (o, v) => {
      o.indexerImage = v;
    },
  },
  {
    name: 'namespace',
    env: 'KVINDEX_WATCH_NAMESPACE',
    arg: 'NS',
    help: 'watch only this namespace (default: all)',
    set: (o, v) => {
      o.namespace = v || undefined;
    },
  },
  {
    name: 'metrics-host',
    env: 'KVINDEX_METRICS_HOST',
    arg: 'HOST',
    help: 'address of /metrics, /healthz, /readyz (default 0.0.0.0)',
    set: (o, v) => {
      o.metricsHost = v;
    },
  },
  {
    name: 'metrics-port',
    env: 'KVINDEX_METRICS_PORT',
    arg: 'PORT',
    help: 'port of /metrics, /healthz, /readyz (default 8080; 0 = any)',
    set: (o, v) => {
      o.metricsPort = positive('metrics-port', v, 0);
    },
  },
  {
    name: 'health-port',
    env: 'KVINDEX_HEALTH_PORT',
    arg: 'PORT',
    help: 'also serve /healthz and /readyz on this port (default: only the metrics port)',
    set: (o, v) => {
      o.healthPort = positive('health-port', v, 0);
    },
  },
  {
    name: 'watch-inference-pools',
    env: 'KVINDEX_WATCH_INFERENCE_POOLS',
    arg: 'BOOL',
    help: 'watch InferencePools (inference.networking.k8s.io/v1) for spec.workers.poolRef once their CRD is served (default true)',
    set: (o, v) => {
      o.watchInferencePools = bool('watch-inference-pools', v);
    },
  },
  {
    name: 'leader-elect',
    env: 'KVINDEX_LEADER_ELECT',
    arg: 'BOOL',
    help: 'campaign for a coordination.k8s.io Lease; only the leader reconciles (default true)',
    set: (o, v) => {
      o.leaderElect = bool('leader-elect', v);
    },
  },
  {
    name: 'leader-election-namespace',
    env: 'KVINDEX_LEADER_ELECTION_NAMESPACE',
    arg: 'NS',
    help: 'namespace of the Lease (default: default; the chart sets the pod namespace)',
    set: (o, v) => {
      o.leaderElectionNamespace = v;
    },
  },
  {
    name: 'leader-election-id',
    env: 'KVINDEX_LEADER_ELECTION_ID',
    arg: 'NAME',
    help: 'name of the Lease (default kvindex-controller)',
    set: (o, v) => {
      o.leaderElectionId = v;
    },
  },
  {
    name: 'identity',
    env: 'KVINDEX_POD_NAME',
    arg: 'ID',
    help: 'holder identity in the Lease (default: hostname_pid)',
    set: (o, v) => {
      o.identity = v;
    },
  },
  {
    name: 'lease-duration',
    env: 'KVINDEX_LEASE_DURATION_SECONDS',
    arg: 'SECONDS',
    help: 'Lease duration (default 15)',
    set: (o, v) => {
      o.leaseDurationMs = positive('lease-duration', v) * 1000;
    },
  },
  {
    name: 'renew-deadline',
    env: 'KVINDEX_RENEW_DEADLINE_SECONDS',
    arg: 'SECONDS',
    help: 'leader steps down when it cannot renew for this long (default 10)',
    set: (o, v) => {
      o.renewDeadlineMs = positive('renew-deadline', v) * 1000;
    },
  },
  {
    name: 'retry-period',
    env: 'KVINDEX_RETRY_PERIOD_SECONDS',
    arg: 'SECONDS',
    help: 'acquire/renew attempts this often (default 2)',
    set: (o, v) => {
      o.retryPeriodMs = positive('retry-period', v, 0.05) * 1000;
    },
  },
  {
    name: 'resync',
    env: 'KVINDEX_RESYNC_SECONDS',
    arg: 'SECONDS',
    help: 're-reconcile every key, re-send worker sets this often (default 30)',
    set: (o, v) => {
      o.resyncMs = positive('resync', v, 0.1) * 1000;
    },
  },
  {
    name: 'workers',
    env: 'KVINDEX_RECONCILE_WORKERS',
    arg: 'N',
    help: 'concurrent reconciles (default 4)',
    set: (o, v) => {
      o.workers = Math.floor(positive('workers', v));
    },
  },
  {
    name: 'indexer-timeout',
    env: 'KVINDEX_INDEXER_TIMEOUT_SECONDS',
    arg: 'SECONDS',
    help: 'timeout of each call to an indexer replica (default 5)',
    set: (o, v) => {
      o.indexerTimeoutMs = positive('indexer-timeout', v, 0.01) * 1000;
    },
  },
  {
    name: 'log-level',
    env: 'KVINDEX_LOG_LEVEL',
    arg: 'LEVEL',
    help: 'pino level: trace, debug, info, warn, error (default info)',
    set: (o, v) => {
      o.logLevel = v;
    },
  },
];

export function defaults(): ControllerCliOptions {
  return {
    help: false,
    kubeconfig: undefined,
    indexerImage: '',
    namespace: undefined,
    metricsHost: '0.0.0.0',
    metricsPort: 8080,
    healthPort: undefined,
    watchInferencePools: true,
    leaderElect: true,
    leaderElectionNamespace: 'default',
    leaderElectionId: 'kvindex-controller',
    identity: `${hostname()}_${process.pid}`,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    resyncMs: 30_000,
    workers: 4,
    indexerTimeoutMs: 5_000,
    logLevel: 'info',
  };
}

export function parseOptions(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): ControllerCliOptions {
  const o = defaults();
  for (const f of FLAGS) {
    const v = env[f.env];
    if (v !== undefined && v !== '') f.set(o, v);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      o.help = true;
      continue;
    }
    if (!a.startsWith('--')) throw new OptionsError(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    const flag = FLAGS.find((f) => f.name === name);
    if (!flag) throw new OptionsError(`unknown flag --${name} (see --help)`);
    let value: string;
    if (eq !== -1) value = a.slice(eq + 1);
    else if (flag.arg === 'BOOL' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')))
      value = 'true';
    else {
      const next = argv[++i];
      if (next === undefined) throw new OptionsError(`--${name} needs a value`);
      value = next;
    }
    flag.set(o, value);
  }
  if (!o.help && o.indexerImage === '')
    throw new OptionsError('--indexer-image (or KVINDEX_DATA_PLANE_IMAGE) is required');
  if (o.renewDeadlineMs >= o.leaseDurationMs)
    throw new OptionsError('--renew-deadline must be shorter than --lease-duration');
  if (o.retryPeriodMs >= o.renewDeadlineMs)
    throw new OptionsError('--retry-period must be shorter than --renew-deadline');
  return o;
}

export function helpText(): string {
  const pad = (s: string) => s.padEnd(40);
  const rows = FLAGS.map((f) => `${pad(`  --${f.name} ${f.arg}`)}${f.help}\n${pad('')}env ${f.env}`);
  return [
    'kvindex-controller: the IndexerDeployment operator (kvindex.io/v1alpha1).',
    '',
    'Usage: kvindex-controller --indexer-image IMAGE [flags]',
    '',
    'Flags (each also read from the environment variable shown; the flag wins):',
    ...rows,
    `${pad('  -h, --help')}this text`,
    '',
    'Serves /metrics, /healthz and /readyz on --metrics-host:--metrics-port (health also on --health-port).',
    'Logs are JSON (pino) on stdout.',
    'SIGTERM releases the Lease so a standby replica takes over at once.',
  ].join('\n');
}

/** Every environment variable the controller reads (the chart sets only these). */
export const ENV_NAMES: readonly string[] = FLAGS.map((f) => f.env);
