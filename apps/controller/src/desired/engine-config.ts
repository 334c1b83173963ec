import type { V1Container } from '@kubernetes/client-node';
import { parseJsonExact } from '@kvindex/core';

// vLLM (and SGLang) take `--kv-events-config '<json>'`. Its ZMQ publisher binds only when the
// endpoint is a wildcard (tcp://*:PORT, tcp://[::]:PORT) or ipc/inproc; any other host makes it
// connect. The indexer connects to the engine, so an engine that connects too delivers nothing and
// every score stays 0 — worth catching before anyone wonders why.

export interface EngineEventsConfig {
  enabled: boolean;
  endpoint: string;
}

const VLLM_DEFAULT_ENDPOINT = 'tcp://*:5557';

/** The engine's --kv-events-config, if its command line carries one that parses. */
export function engineEventsConfig(container: V1Container): EngineEventsConfig | undefined {
  const words = [...(container.command ?? []), ...(container.args ?? [])];
  const line = words.join(' ');
  const match = /--kv-events-config(?:=|\s+)(['"]?)(\{[^}]*\})\1/.exec(line);
  if (!match) return undefined;
  let value: unknown;
  try {
    value = parseJsonExact(match[2]!);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  return {
    enabled: o.enable_kv_cache_events === true && o.publisher !== 'null',
    endpoint: typeof o.endpoint === 'string' ? o.endpoint : VLLM_DEFAULT_ENDPOINT,
  };
}

/** Whether vLLM's publisher binds this endpoint (else it connects). */
export function publisherBinds(endpoint: string): boolean {
  return (
    endpoint.includes('*') ||
    endpoint.includes('::') ||
    // Some vLLM versions connect on 0.0.0.0 while SGLang binds: too ambiguous to call a mistake.
    endpoint.includes('0.0.0.0') ||
    endpoint.startsWith('ipc://') ||
    endpoint.startsWith('inproc://')
  );
}

export function endpointPort(endpoint: string): number | undefined {
  const match = /:(\d+)$/.exec(endpoint);
  return match ? Number(match[1]) : undefined;
}
