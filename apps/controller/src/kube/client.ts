import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

// A small JSON client over the kubeconfig's credentials: the typed clients cannot express
// server-side apply on every kind or the status subresource of a custom resource, and a raw client
// keeps resourceVersions opaque strings and counts every request (a metric, and the scale bench).

export const FIELD_MANAGER = 'kvindex-controller';

export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(method: string, path: string, status: number, body: string) {
    let message = body;
    let reason: string | undefined;
    try {
      const s = JSON.parse(body) as { message?: string; reason?: string };
      message = s.message ?? body;
      reason = s.reason;
    } catch {}
    super(`${method} ${path}: ${status} ${message}`);
    this.status = status;
    this.reason = reason;
  }
}

export interface KubeList<T> {
  metadata?: { resourceVersion?: string };
  items: T[];
}

export class KubeClient {
  private readonly kc: KubeConfig;
  private readonly server: URL;
  /** Requests sent, by verb: for /metrics and to spot hot loops. */
  readonly requests = new Map<string, number>();
  onRequest: ((verb: string, status: number) => void) | undefined;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  async request(
    method: string,
    path: string,
    options: { body?: unknown; contentType?: string; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.server);
    const opts: RequestOptions = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port,
      path: url.pathname + url.search,
      headers: { accept: 'application/json' },
    };
    await this.kc.applyToHTTPSOptions(opts);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) {
      opts.headers = {
        ...opts.headers,
        'content-type': options.contentType ?? 'application/json',
        'content-length': Buffer.byteLength(payload),
      };
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = send(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.setTimeout(options.timeoutMs ?? 30_000, () =>
        req.destroy(new Error(`${method} ${path}: timed out`)),
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
    const verb = method.toLowerCase();
    this.requests.set(verb, (this.requests.get(verb) ?? 0) + 1);
    this.onRequest?.(verb, result.status);
    return result;
  }

  private async json<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const r = await this.request(method, path, { body, ...(contentType ? { contentType } : {}) });
    if (r.status < 200 || r.status >= 300) throw new KubeApiError(method, path, r.status, r.body);
    return JSON.parse(r.body) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  /** GET that answers undefined on 404. */
  async find<T>(path: string): Promise<T | undefined> {
    const r = await this.request('GET', path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new KubeApiError('GET', path, r.status, r.body);
    return JSON.parse(r.body) as T;
  }

  list<T>(path: string, labelSelector?: string): Promise<KubeList<T>> {
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    return this.json<KubeList<T>>('GET', path + q);
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PUT', path, body);
  }

  /** Server-side apply as `kvindex-controller`, taking over fields another manager set (force). */
  apply<T>(path: string, body: unknown): Promise<T> {
    const q = `?fieldManager=${FIELD_MANAGER}&force=true`;
    return this.json<T>('PATCH', path + q, body, 'application/apply-patch+yaml');
  }

  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  /** DELETE; a 404 (already gone) is success. Background propagation: dependents go through GC. */
  async delete(path: string): Promise<void> {
    const r = await this.request('DELETE', path, {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
    });
    if (r.status === 404) return;
    if (r.status < 200 || r.status >= 300) throw new KubeApiError('DELETE', path, r.status, r.body);
  }
}

/** The REST path of a namespaced object (or its collection when name is undefined). */
export function objectPath(
  apiVersion: string,
  plural: string,
  namespace: string | undefined,
  name?: string,
): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}
