import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { API_VERSION, type IndexerDeployment, KIND } from '../api/indexer-deployment.ts';
import { INDEXER_DEPLOYMENT_LABEL } from '../desired/indexer-children.ts';
import { labelValue } from '../desired/names.ts';
import { matchesLabels } from '../desired/pods.ts';

// Which IndexerDeployment keys ("namespace/name") an object event concerns: the informers' event
// handlers enqueue these, so a change anywhere reconciles exactly the owners it affects.

export function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The controlling IndexerDeployment of a child (Deployment, Service, HPA), if any. */
export function ownerKey(obj: KubernetesObject): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find(
    (r) => r.controller && r.kind === KIND && r.apiVersion === API_VERSION,
  );
  return ref ? `${obj.metadata?.namespace ?? ''}/${ref.name}` : undefined;
}

export function isOwnedBy(obj: KubernetesObject, idxd: IndexerDeployment): boolean {
  return obj.metadata?.ownerReferences?.some((r) => r.controller && r.uid === idxd.metadata.uid) ?? false;
}

/**
 * IndexerDeployments of the pod's namespace that select it as a worker or run it as an indexer.
 * `poolSelector` resolves a poolRef to its InferencePool's selector (undefined when unknown).
 */
export function keysForPod(
  pod: V1Pod,
  idxds: readonly IndexerDeployment[],
  poolSelector: (namespace: string, pool: string) => Record<string, string> | undefined,
): string[] {
  const ns = pod.metadata?.namespace ?? '';
  const keys: string[] = [];
  for (const idxd of idxds) {
    const name = idxd.metadata.name!;
    if (pod.metadata?.labels?.[INDEXER_DEPLOYMENT_LABEL] === labelValue(name)) {
      keys.push(`${ns}/${name}`);
      continue;
    }
    const { workers } = idxd.spec;
    const selector = workers.poolRef ? poolSelector(ns, workers.poolRef.name) : workers.selector?.matchLabels;
    if (selector && Object.keys(selector).length > 0 && matchesLabels(pod, selector))
      keys.push(`${ns}/${name}`);
  }
  return keys;
}
