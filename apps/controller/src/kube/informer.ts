import { type KubeConfig, type KubernetesObject, makeInformer } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeClient } from './client.ts';

// client-go's SharedInformer in miniature: @kubernetes/client-node's ListWatch keeps the cache and
// relists by itself on 410 Gone; it stops on any other watch error (an apiserver restart), so this
// restarts it with backoff, and reports when the first list has landed in the cache.

export type ChangeHandler<T> = (obj: T, kind: 'add' | 'update' | 'delete') => void;

export interface Informer<T extends KubernetesObject> {
  readonly name: string;
  list(namespace?: string): T[];
  get(name: string, namespace?: string): T | undefined;
  /** Resolves once the first list is in the cache. */
  synced(): Promise<void>;
  isSynced(): boolean;
  stop(): Promise<void>;
  /** Watch errors survived (each followed by a restart). */
  errors: number;
  /** Full lists: the first, and every relist (after 410 Gone, or a restart without a resourceVersion). */
  lists: number;
}

export interface InformerOptions<T> {
  name: string;
  kubeConfig: KubeConfig;
  client: KubeClient;
  /** Collection path to list and watch, e.g. /api/v1/pods. */
  path: string;
  labelSelector?: string;
  onChange: ChangeHandler<T>;
  logger: Logger;
  /** Restart delay after a watch error: doubles from min to max. */
  backoffMs?: { min: number; max: number };
}

export function startInformer<T extends KubernetesObject>(options: InformerOptions<T>): Informer<T> {
  const { client, path, labelSelector, logger, name } = options;
  const backoff = options.backoffMs ?? { min: 200, max: 10_000 };
  let markSynced: () => void = () => {};
  const synced = new Promise<void>((r) => {
    markSynced = r;
  });
  let isSynced = false;
  let stopped = false;
  let delay = backoff.min;
  let timer: NodeJS.Timeout | undefined;
  const listFn = async () => {
    const list = await client.list<T>(path, labelSelector);
    handle.lists++;
    if (handle.lists > 1) logger.info({ informer: name, items: list.items.length }, 'relisted');
    // ListWatch adds the items to its cache right after this promise settles.
    setImmediate(() => {
      isSynced = true;
      delay = backoff.min;
      markSynced();
    });
    return { apiVersion: 'v1', kind: 'List', metadata: list.metadata ?? {}, items: list.items };
  };
  const inf = makeInformer<T>(options.kubeConfig, path, listFn as never, labelSelector);
  inf.on('add', (o) => options.onChange(o, 'add'));
  inf.on('update', (o) => options.onChange(o, 'update'));
  inf.on('delete', (o) => options.onChange(o, 'delete'));
  const handle: Informer<T> = {
    name,
    errors: 0,
    lists: 0,
    list: (namespace) => [...inf.list(namespace)],
    get: (n, namespace) => inf.get(n, namespace),
    synced: () => synced,
    isSynced: () => isSynced,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inf.stop();
    },
  };
  const restart = () => {
    timer = undefined;
    if (stopped) return;
    inf
      .start()
      .catch((err: unknown) => logger.warn({ informer: name, err: String(err) }, 'informer start failed'));
  };
  inf.on('error', (err?: unknown) => {
    if (stopped) return;
    handle.errors++;
    logger.warn(
      { informer: name, err: String(err), retryMs: delay },
      'watch ended with an error; restarting',
    );
    if (timer) return;
    timer = setTimeout(restart, delay);
    delay = Math.min(delay * 2, backoff.max);
  });
  restart();
  return handle;
}
