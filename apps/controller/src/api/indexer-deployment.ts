import type { V1ObjectMeta } from '@kubernetes/client-node';
import {
  array,
  boolean,
  type CelRule,
  freeform,
  type Infer,
  integer,
  intOrString,
  map,
  number,
  object,
  oneOf,
  string,
  withDefault,
} from './schema.ts';

// kvindex.io/v1alpha1 IndexerDeployment: the one object users apply. This file is the only place
// its schema is written; the CRD YAML (crds/, charts/kvindex/crds/) and the TypeScript types below
// are derived from it (scripts/emit-crds.ts, checked for drift by crd.test.ts).

export const GROUP = 'kvindex.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'IndexerDeployment';
export const PLURAL = 'indexerdeployments';
export const SHORT_NAME = 'idxd';

export const DEFAULT_MODEL_LABEL = 'kvindex.io/model';
export const DEFAULT_BLOCK_SIZE = 16;

// Kubernetes label values (and InferencePool's LabelValue): empty, or alphanumerics at both ends.
const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
const LABEL_KEY_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$';

/** A container port number, or the name of a container port (IANA_SVC_NAME), as in a Service's targetPort. */
const portRule: CelRule = {
  rule: "type(self) == int ? (self >= 1 && self <= 65535) : (size(self) <= 15 && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && self.matches('[a-z]') && !self.contains('--'))",
  message:
    "must be a port number (1-65535) or a container port name (1-15 lowercase letters, digits and '-', with at least one letter)",
};

// maxLength bounds the string's CEL cost (15 is IANA_SVC_NAME's limit); it never applies to numbers.
const port = (description: string) => intOrString({ description, maxLength: 15, validations: [portRule] });

const labelKey = (description: string) => string({ description, maxLength: 317, pattern: LABEL_KEY_PATTERN });

const workersSchema = object(
  {
    selector: object(
      {
        matchLabels: map(string({ maxLength: 63, pattern: LABEL_VALUE_PATTERN }), {
          description: 'Worker pods must carry every one of these labels (AND).',
          minProperties: 1,
          maxProperties: 64,
        }),
      },
      {
        description:
          "Selects worker pods by label, in this namespace. Same shape and limits as an InferencePool's selector.",
        required: ['matchLabels'],
      },
    ),
    poolRef: object(
      {
        name: string({ description: 'Name of the InferencePool.', minLength: 1, maxLength: 253 }),
      },
      {
        description:
          'An InferencePool (inference.networking.k8s.io/v1) in this namespace: its selector picks the worker pods and its targetPorts give one data-parallel rank per port.',
        required: ['name'],
      },
    ),
    modelLabel: withDefault(
      labelKey(
        'Pod label whose value names the served model; one indexer per distinct value. Pods without it serve spec.model.',
      ),
      DEFAULT_MODEL_LABEL,
    ),
    routingGroupLabel: withDefault(
      string({
        description:
          'Optional pod label: pods with different values never share a prefix tree (e.g. different hardware or LoRA sets). Empty: one group.',
        maxLength: 317,
        pattern: `^$|${LABEL_KEY_PATTERN}`,
      }),
      '',
    ),
    engineContainer: string({
      description:
        "Name of the inference engine's container, whose restartCount marks an engine restart. Default: the container that declares the events port, else the first container.",
      maxLength: 63,
    }),
  },
  {
    description: 'Where the inference engine pods are. Exactly one of selector or poolRef.',
    validations: [
      {
        rule: 'has(self.selector) != has(self.poolRef)',
        message: 'exactly one of workers.selector or workers.poolRef must be set',
      },
    ],
  },
);

const eventsSchema = object(
  {
    transport: withDefault(
      oneOf(['zmq', 'nats'], {
        description:
          "How engines publish KV events: 'zmq' (vLLM/SGLang ZMQ PUB sockets, subscribed per pod) or 'nats' (Dynamo's event plane).",
      }),
      'zmq',
    ),
    zmq: withDefault(
      object({
        port: withDefault(
          port(
            "The engine's KV-event PUB port (container port name or number). Data-parallel rank r publishes on port + r.",
          ),
          'kv-events',
        ),
        replayPort: port(
          "The engine's replay (ROUTER) port, if it keeps a replay buffer; rank r on replayPort + r. Without it, gaps are not backfilled.",
        ),
      }),
      {},
    ),
    nats: object(
      {
        url: string({
          description: 'NATS server URL, e.g. nats://nats:4222.',
          minLength: 1,
          maxLength: 2048,
        }),
        namespace: withDefault(
          string({ description: 'Dynamo namespace.', minLength: 1, maxLength: 253 }),
          'dynamo',
        ),
        component: withDefault(
          string({ description: 'Dynamo component.', minLength: 1, maxLength: 253 }),
          'backend',
        ),
      },
      { description: "Dynamo's NATS event plane; required when transport is nats.", required: ['url'] },
    ),
  },
  {
    description: 'Where the indexer reads KV cache events from.',
    validations: [
      {
        rule: "self.transport != 'nats' || has(self.nats)",
        message: 'events.nats is required when events.transport is nats',
      },
    ],
  },
);

const indexerSchema = object({
  image: string({
    description: "Data-plane image. Default: the image the controller was installed with (the chart's).",
    maxLength: 1024,
  }),
  replicas: withDefault(
    object(
      {
        min: withDefault(
          integer({ description: 'Fewest indexer replicas per model.', minimum: 1, maximum: 100 }),
          1,
        ),
        max: withDefault(
          integer({ description: 'Most indexer replicas per model.', minimum: 1, maximum: 100 }),
          4,
        ),
      },
      {
        description:
          'Indexer replicas per model: clamp(ceil(workers / workersPerReplica), min, max), or the HPA bounds with autoscaling.',
        validations: [
          {
            rule: 'self.min <= self.max',
            // A messageExpression with string(int) is costed as unbounded and refused by the apiserver.
            message: 'replicas.min must not exceed replicas.max',
          },
        ],
      },
    ),
    // Spelled out: the apiserver checks a default against the CEL rules without nested defaults.
    { min: 1, max: 4 },
  ),
  workersPerReplica: withDefault(
    integer({
      description:
        'Worker endpoints (pod × data-parallel rank; pods with nats) one indexer replica is sized for.',
      minimum: 1,
      maximum: 100000,
    }),
    32,
  ),
  autoscaling: object(
    {
      hpa: object(
        {
          metrics: array(freeform({ description: 'An autoscaling/v2 MetricSpec.' }), {
            description: 'HPA metrics. Empty: 80% average CPU utilization.',
            maxItems: 8,
            listType: 'atomic',
          }),
        },
        {
          description:
            "Scale each model's indexer with a HorizontalPodAutoscaler between replicas.min and max.",
        },
      ),
    },
    { description: 'Replaces workersPerReplica sizing.' },
  ),
  resources: object(
    {
      requests: map(intOrString(), { description: 'Resource requests, e.g. {cpu: 500m, memory: 1Gi}.' }),
      limits: map(intOrString(), { description: 'Resource limits.' }),
    },
    { description: 'Compute resources of each indexer container.' },
  ),
  snapshots: withDefault(
    object({
      enabled: withDefault(
        boolean({ description: 'Persist index snapshots so a restarted replica starts warm.' }),
        false,
      ),
    }),
    {},
  ),
});

export const indexerDeploymentSpecSchema = object(
  {
    model: string({
      description: 'Model name for worker pods that do not carry workers.modelLabel.',
      minLength: 1,
      maxLength: 253,
    }),
    workers: workersSchema,
    blockSize: withDefault(
      integer({
        description:
          'Tokens per KV block, as the engines are configured. Pod annotation kvindex.io/block-size overrides.',
        minimum: 1,
        maximum: 65536,
      }),
      DEFAULT_BLOCK_SIZE,
    ),
    events: withDefault(eventsSchema, { transport: 'zmq' }),
    indexer: withDefault(indexerSchema, {}),
    workerDeletionCost: withDefault(
      boolean({
        description:
          'Annotate worker pods with controller.kubernetes.io/pod-deletion-cost from their cached blocks, so scale-down removes the coldest engine first.',
      }),
      false,
    ),
  },
  { description: 'The desired indexers and how to find their workers.', required: ['workers'] },
);

const conditionSchema = object(
  {
    type: string({ description: 'Ready, Progressing or Degraded.', maxLength: 316 }),
    status: oneOf(['True', 'False', 'Unknown']),
    observedGeneration: integer({ format: 'int64', minimum: 0 }),
    lastTransitionTime: string({ format: 'date-time' }),
    reason: string({ maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
    message: string({ maxLength: 32768 }),
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
);

const counter = (description: string) => integer({ description, format: 'int64', minimum: 0 });

const modelStatusSchema = object(
  {
    name: string({ description: 'Model name.' }),
    routingGroups: counter('Distinct routing groups among the workers.'),
    workers: counter('Worker endpoints (pod × data-parallel rank) discovered.'),
    readyWorkers: counter('Worker endpoints every indexer replica is subscribed to.'),
    replicas: counter('Desired indexer replicas.'),
    readyReplicas: counter('Ready indexer replicas.'),
    blocks: counter('Blocks indexed (from the indexers).'),
    maxLagSeconds: number({ description: 'Largest event lag among the workers, in seconds.' }),
    gaps: counter('Event-id gaps detected.'),
    replays: counter('Replays requested to fill gaps.'),
    restartsDetected: counter('Engine restarts detected (generation changes).'),
  },
  { required: ['name'] },
);

const failedWorkerSchema = object(
  {
    pod: string({ description: 'Worker pod name.' }),
    model: string({ description: 'Model, when known.' }),
    reason: string({ description: 'Machine-readable reason, e.g. PortNotFound.' }),
    message: string({ description: 'What is wrong and how to fix it.' }),
  },
  { required: ['pod', 'reason', 'message'] },
);

export const indexerDeploymentStatusSchema = object({
  observedGeneration: integer({ format: 'int64', minimum: 0 }),
  conditions: array(conditionSchema, { listType: 'map', listMapKeys: ['type'], maxItems: 8 }),
  modelCount: counter('Models with an indexer.'),
  workers: counter('Worker endpoints discovered, over all models.'),
  readyWorkers: counter('Worker endpoints subscribed, over all models.'),
  replicas: counter('Indexer replicas, over all models.'),
  readyReplicas: counter('Ready indexer replicas, over all models.'),
  models: array(modelStatusSchema, { listType: 'map', listMapKeys: ['name'], maxItems: 1024 }),
  failedWorkers: array(failedWorkerSchema, {
    description: 'Worker pods that cannot be indexed (first 32).',
    maxItems: 32,
    listType: 'atomic',
  }),
});

export type IndexerDeploymentSpec = Infer<typeof indexerDeploymentSpecSchema>;
export type IndexerDeploymentStatus = Infer<typeof indexerDeploymentStatusSchema>;
export type Condition = Infer<typeof conditionSchema>;
export type ModelStatus = Infer<typeof modelStatusSchema>;
export type FailedWorker = Infer<typeof failedWorkerSchema>;

export interface IndexerDeployment {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: IndexerDeploymentSpec;
  status?: IndexerDeploymentStatus;
}
