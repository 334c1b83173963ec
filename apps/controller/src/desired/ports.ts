import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { annotation } from './pods.ts';

/** A container port by number, or by name (engine container first, then the pod's other containers). */
export function resolvePort(pod: V1Pod, engine: V1Container, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  const containers = [engine, ...(pod.spec?.containers ?? []).filter((c) => c !== engine)];
  for (const container of containers) {
    const found = container.ports?.find((p) => p.name === port);
    if (found) return found.containerPort;
  }
  return undefined;
}

/** The container that runs the engine: named in the spec, else the one declaring the events port, else the first. */
export function engineContainer(
  pod: V1Pod,
  name: string | undefined,
  eventsPort: number | string,
): V1Container | undefined {
  const containers = pod.spec?.containers ?? [];
  if (name !== undefined) return containers.find((c) => c.name === name);
  if (typeof eventsPort === 'string') {
    const declaring = containers.find((c) => c.ports?.some((p) => p.name === eventsPort));
    if (declaring) return declaring;
  }
  return containers[0];
}

/** Pods list their serving ports here; current llm-d name first, then the Inference Extension's. */
export const ACTIVE_PORTS_ANNOTATIONS = ['llm-d.ai/active-ports', 'inference.networking.k8s.io/active-ports'];
export const DATA_PARALLEL_SIZE_ANNOTATION = 'kvindex.io/data-parallel-size';
export const MAX_DATA_PARALLEL_SIZE = 1024;

/**
 * The data-parallel ranks a pod serves. With an InferencePool, rank i serves targetPorts[i], and the
 * active-ports annotation (when present) keeps only the ranks whose port it lists. Without one,
 * kvindex.io/data-parallel-size (default 1) gives ranks 0..n-1. A string is a misconfiguration.
 */
export function podRanks(pod: V1Pod, targetPorts: readonly number[] | undefined): number[] | string {
  if (targetPorts) {
    const key = ACTIVE_PORTS_ANNOTATIONS.find((k) => annotation(pod, k) !== undefined);
    if (key === undefined) return targetPorts.map((_, i) => i);
    const active = new Set<number>();
    for (const word of annotation(pod, key)!.split(',')) {
      const trimmed = word.trim();
      if (trimmed === '') continue;
      if (!/^[0-9]+$/.test(trimmed) || Number(trimmed) < 1 || Number(trimmed) > 65535) {
        return `annotation ${key} must list port numbers separated by commas, got ${JSON.stringify(annotation(pod, key))}`;
      }
      active.add(Number(trimmed));
    }
    return targetPorts.flatMap((port, i) => (active.has(port) ? [i] : []));
  }
  const size = annotation(pod, DATA_PARALLEL_SIZE_ANNOTATION);
  if (size === undefined) return [0];
  if (!/^[0-9]+$/.test(size) || Number(size) < 1 || Number(size) > MAX_DATA_PARALLEL_SIZE) {
    return `annotation ${DATA_PARALLEL_SIZE_ANNOTATION} must be an integer in [1, ${MAX_DATA_PARALLEL_SIZE}], got ${JSON.stringify(size)}`;
  }
  return Array.from({ length: Number(size) }, (_, i) => i);
}

/** vLLM's rule: data-parallel rank r publishes on base port + r. */
export function tcpEndpoint(ip: string, port: number): string {
  return ip.includes(':') ? `tcp://[${ip}]:${port}` : `tcp://${ip}:${port}`;
}
