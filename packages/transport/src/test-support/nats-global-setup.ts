import type { TestProject } from 'vitest/node';
import { installNatsServer, startNatsServer } from './nats-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    natsServerBin: string;
  }
}

/** One real nats-server on a free loopback port for the run; tests that kill servers start their own. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bin = installNatsServer();
  const server = await startNatsServer(bin);
  project.provide('natsServerBin', bin);
  project.provide('natsUrl', server.url);
  return () => server.stop();
}
