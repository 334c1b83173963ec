import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ENV_NAMES, parseOptions } from '../src/cli/options.ts';
import { type ControlPlane, startControlPlane } from './support/control-plane.ts';
import { chartDir, helm } from './support/helm.ts';

// The Helm chart: it lints, renders, and every rendered object is accepted by a real apiserver
// (server-side dry run: schema, defaults and admission, nothing persisted).

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: {
    replicas?: number;
    template?: {
      spec?: {
        containers: {
          args?: string[];
          env?: { name: string; value?: string; valueFrom?: unknown }[];
          ports?: { name: string; containerPort: number }[];
          livenessProbe?: { httpGet?: { port: string } };
        }[];
      };
    };
  };
}

function render(...set: string[]): Manifest[] {
  const args = ['template', 'kvindex', chartDir, '--namespace', 'kvindex-system', '--include-crds'];
  for (const s of set) args.push('--set', s);
  return parseAllDocuments(helm(args))
    .map((d) => d.toJSON() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const plural: Record<string, string> = {
  ServiceAccount: 'serviceaccounts',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  Service: 'services',
  Deployment: 'deployments',
  CustomResourceDefinition: 'customresourcedefinitions',
};

function collectionPath(m: Manifest): string {
  const base = m.apiVersion.includes('/') ? `/apis/${m.apiVersion}` : `/api/${m.apiVersion}`;
  const ns = m.metadata.namespace ? `/namespaces/${m.metadata.namespace}` : '';
  const resource = plural[m.kind];
  if (!resource) throw new Error(`no plural for ${m.kind}`);
  return `${base}${ns}/${resource}`;
}

describe('charts/kvindex', () => {
  let plane: ControlPlane;

  beforeAll(async () => {
    plane = await startControlPlane();
    await plane.request('/api/v1/namespaces', {
      method: 'POST',
      body: { metadata: { name: 'kvindex-system' } },
    });
  }, 120_000);

  afterAll(async () => {
    await plane?.stop();
  }, 30_000);

  it('lints', () => {
    expect(helm(['lint', chartDir, '--strict'])).toContain('0 chart(s) failed');
  });

  it('renders objects the apiserver accepts', async () => {
    const manifests = render();
    expect(manifests.map((m) => m.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
      'Deployment',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    for (const m of manifests) {
      const response = await plane.request(`${collectionPath(m)}?dryRun=All&fieldValidation=Strict`, {
        method: 'POST',
        body: m,
      });
      expect(response.status, `${m.kind} ${m.metadata.name}: ${response.body}`).toBe(201);
    }
    expect(manifests.find((m) => m.kind === 'Deployment')?.spec?.replicas).toBe(2);
  });

  it('grants pod patch only with workerDeletionCost, and InferencePools only when asked', () => {
    const podVerbs = (ms: Manifest[]) =>
      ms.find((m) => m.kind === 'ClusterRole')?.rules?.find((r) => r.resources.includes('pods'))?.verbs;
    const groups = (ms: Manifest[]) =>
      ms.find((m) => m.kind === 'ClusterRole')?.rules?.flatMap((r) => r.apiGroups);
    expect(podVerbs(render())).toEqual(['get', 'list', 'watch']);
    expect(podVerbs(render('workerDeletionCost=true'))).toEqual(['get', 'list', 'watch', 'patch']);
    expect(groups(render())).toContain('inference.networking.k8s.io');
    expect(groups(render('inferencePools=false'))).not.toContain('inference.networking.k8s.io');
  });

  it('runs the controller with flags and environment kvindex-controller accepts', () => {
    const deployment = render('controller.watchNamespace=inference').find((m) => m.kind === 'Deployment')!;
    const container = deployment.spec!.template!.spec!.containers[0]!;
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      expect(ENV_NAMES, `env ${e.name}`).toContain(e.name);
      env[e.name] = e.value ?? 'from-downward-api';
    }
    const o = parseOptions(container.args ?? [], env);
    expect(o).toMatchObject({
      indexerImage: expect.stringMatching(/^kvindex\/data-plane:/),
      metricsPort: 8080,
      healthPort: 8081,
      leaderElect: true,
      leaderElectionNamespace: 'from-downward-api',
      identity: 'from-downward-api',
      namespace: 'inference',
      watchInferencePools: true,
    });
    expect(container.ports?.map((p) => p.containerPort).sort()).toEqual([8080, 8081]);
  });

  it('renders a ServiceMonitor when enabled', () => {
    expect(render('serviceMonitor.enabled=true').some((m) => m.kind === 'ServiceMonitor')).toBe(true);
  });
});
