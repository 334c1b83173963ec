import type {
  V1Deployment,
  V1OwnerReference,
  V1Service,
  V2HorizontalPodAutoscaler,
  V2MetricSpec,
} from '@kubernetes/client-node';
import type { IndexerDeployment } from '../api/indexer-deployment.ts';
import { labelValue } from './names.ts';

// The Kubernetes objects that run one model's indexer: a Deployment of the data plane, a Service in
// front of it and, when asked, a HorizontalPodAutoscaler. Plain objects for server-side apply.

export const DATA_PLANE_PORT = 8090;
export const INDEXER_LABEL = 'kvindex.io/indexer';
export const INDEXER_DEPLOYMENT_LABEL = 'kvindex.io/indexer-deployment';
export const MODEL_ANNOTATION = 'kvindex.io/model';
export const MANAGED_BY = 'kvindex-controller';
/** Non-root user of the data-plane image (distroless "nonroot"). */
const RUN_AS = 65532;

export function ownerReference(idxd: IndexerDeployment): V1OwnerReference {
  return {
    apiVersion: idxd.apiVersion,
    kind: idxd.kind,
    name: idxd.metadata.name!,
    uid: idxd.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function indexerLabels(idxd: IndexerDeployment, name: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'kvindex-indexer',
    'app.kubernetes.io/component': 'indexer',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [INDEXER_DEPLOYMENT_LABEL]: labelValue(idxd.metadata.name!),
    [INDEXER_LABEL]: name,
  };
}

function metadata(idxd: IndexerDeployment, name: string, model: string) {
  return {
    name,
    namespace: idxd.metadata.namespace!,
    labels: indexerLabels(idxd, name),
    annotations: { [MODEL_ANNOTATION]: model },
    ownerReferences: [ownerReference(idxd)],
  };
}

export interface ChildOptions {
  image: string;
  /** Desired replicas; ignored (left to the HPA) when the spec asks for autoscaling. */
  replicas: number;
}

export function indexerDeployment(
  idxd: IndexerDeployment,
  name: string,
  model: string,
  options: ChildOptions,
): V1Deployment {
  const { spec } = idxd;
  const args = [`--port=${DATA_PLANE_PORT}`];
  if (spec.events.transport === 'nats' && spec.events.nats) {
    args.push(
      `--nats-url=${spec.events.nats.url}`,
      `--nats-subjects=${spec.events.nats.namespace}/${spec.events.nats.component}`,
    );
  }
  const resources = spec.indexer.resources;
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(idxd, name, model),
    spec: {
      selector: { matchLabels: { [INDEXER_LABEL]: name } },
      template: {
        metadata: { labels: indexerLabels(idxd, name), annotations: { [MODEL_ANNOTATION]: model } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUN_AS,
            runAsGroup: RUN_AS,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'indexer',
              image: spec.indexer.image ?? options.image,
              args,
              env: [{ name: 'KVINDEX_MODEL_NAME', value: model }],
              ports: [{ name: 'http', containerPort: DATA_PLANE_PORT, protocol: 'TCP' }],
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'http' },
                periodSeconds: 5,
                failureThreshold: 2,
              },
              livenessProbe: {
                httpGet: { path: '/readyz', port: 'http' },
                periodSeconds: 10,
                failureThreshold: 6,
              },
              ...(resources ? { resources: quantities(resources) } : {}),
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
  if (!spec.indexer.autoscaling?.hpa) deployment.spec!.replicas = options.replicas;
  return deployment;
}

/** Quantities go out as strings (a number like 2 is a valid quantity, and the client types want strings). */
function quantities(resources: {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}) {
  const strings = (m: Record<string, string | number> | undefined) =>
    m && Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
  return {
    ...(resources.requests && { requests: strings(resources.requests) }),
    ...(resources.limits && { limits: strings(resources.limits) }),
  };
}

export function indexerService(idxd: IndexerDeployment, name: string, model: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(idxd, name, model),
    spec: {
      type: 'ClusterIP',
      selector: { [INDEXER_LABEL]: name },
      // The same port serves the API and /metrics.
      ports: [{ name: 'http', port: DATA_PLANE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

const DEFAULT_METRICS: V2MetricSpec[] = [
  { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
];

export function indexerAutoscaler(
  idxd: IndexerDeployment,
  name: string,
  model: string,
): V2HorizontalPodAutoscaler | undefined {
  const hpa = idxd.spec.indexer.autoscaling?.hpa;
  if (!hpa) return undefined;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: metadata(idxd, name, model),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: idxd.spec.indexer.replicas.min,
      maxReplicas: idxd.spec.indexer.replicas.max,
      // Passed through as written; the apiserver validates them when the HPA is applied.
      metrics: hpa.metrics?.length ? (hpa.metrics as unknown as V2MetricSpec[]) : DEFAULT_METRICS,
    },
  };
}
