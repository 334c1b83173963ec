import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { answerIndexerQuery, type QueryTarget } from '../service/indexer-query.ts';

/**
 * `--serve-indexer`: answers Dynamo's `kv_indexer_query` requests (NATS request/reply) from one
 * partition of this data plane's index. The subject defaults to Dynamo's
 * `namespace.{ns}.component.{component}.kv_indexer_query`.
 */

export function defaultQuerySubject(namespace: string, component: string): string {
  return `namespace.${namespace}.component.${component}.kv_indexer_query`;
}

export interface IndexerQueryService {
  readonly subject: string;
  answered(): number;
  close(): Promise<void>;
}

export async function startIndexerQueryService(
  target: QueryTarget,
  o: { url: string; subject: string; logger?: Logger | undefined },
): Promise<IndexerQueryService> {
  const nc: NatsConnection = await connect({ servers: o.url, name: 'kvindex-indexer-query' });
  let answered = 0;
  nc.subscribe(o.subject, {
    callback: (err, msg) => {
      if (err) {
        o.logger?.warn({ err: err.message, subject: o.subject }, 'indexer query subscription error');
        return;
      }
      // A request without a reply subject cannot be answered; it is ignored like a stray publish.
      if (!msg.reply) return;
      msg.respond(answerIndexerQuery(msg.data, target));
      answered++;
    },
  });
  await nc.flush();
  o.logger?.info({ subject: o.subject }, 'serving kv_indexer_query over NATS');
  return {
    subject: o.subject,
    answered: () => answered,
    close: async () => {
      await nc.drain().catch(() => {});
    },
  };
}
