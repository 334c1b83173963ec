import { createServer } from 'node:net';

/**
 * A TCP port free right now on every interface. Dynamo's indexer and mocker bind 0.0.0.0 only, so
 * the probe binds the same; the port is released before the caller uses it, so a concurrent test
 * could in principle take it first (the callers then fail to start and say so).
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** `count` distinct free ports where `port + k` (k < span) is free too, for base+dp_rank binds. */
export async function freePortBlocks(count: number, span: number): Promise<number[]> {
  const out: number[] = [];
  const taken = new Set<number>();
  while (out.length < count) {
    const base = await freePort();
    const range = Array.from({ length: span }, (_, k) => base + k);
    if (range.some((p) => taken.has(p) || p > 65535)) continue;
    if (!(await allFree(range.slice(1)))) continue;
    for (const p of range) taken.add(p);
    out.push(base);
  }
  return out;
}

async function allFree(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
    });
    if (!ok) return false;
  }
  return true;
}
