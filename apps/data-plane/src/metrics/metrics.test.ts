import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type App, createApp } from '../app.ts';
import { manualListeners } from '../test-support/manual-listener.ts';
import { kvIndexFactory } from '../wiring/kv-index-partition.ts';

// Dynamo's metric names, help, labels and buckets (docs/reference/dynamo-1.6.1/README.md §4.4 and
// exchange [338]), so existing dashboards keep working.

describe('metrics', () => {
  let app: App;
  beforeEach(() => {
    app = createApp({ indexFactory: kvIndexFactory, listenerFactory: manualListeners().factory });
    app.service.registry.start();
  });
  afterEach(async () => {
    await app.server.close();
  });

  const scrape = async () => {
    const r = await app.server.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4');
    return r.body;
  };

  it("exposes Dynamo's metrics with its help texts, labels and buckets", async () => {
    await app.server.inject({ method: 'GET', url: '/health' });
    await app.server.inject({
      method: 'POST',
      url: '/health',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    await app.server.inject({ method: 'GET', url: '/nope' });
    await app.server.inject({
      method: 'POST',
      url: '/query',
      headers: { 'content-type': 'application/json' },
      payload: '{"token_ids":[1],"model_name":"x"}',
    });
    const text = await scrape();
    for (const line of [
      '# HELP dynamo_kvindexer_errors_total HTTP error responses (4xx/5xx)',
      '# HELP dynamo_kvindexer_listeners Number of ZMQ listeners by status',
      '# HELP dynamo_kvindexer_models Number of active model+routing-group indexers',
      '# HELP dynamo_kvindexer_request_duration_seconds HTTP request latency',
      '# HELP dynamo_kvindexer_requests_total Total HTTP requests',
      '# HELP dynamo_kvindexer_workers Number of registered worker instances',
      '# HELP dynamo_kvrouter_kv_cache_events_applied Total number of KV cache events applied to index',
      'dynamo_kvindexer_requests_total{endpoint="/health",method="GET"} 1',
      'dynamo_kvindexer_requests_total{endpoint="/health",method="POST"} 1',
      'dynamo_kvindexer_errors_total{endpoint="/health",status_class="4xx"} 1',
      'dynamo_kvindexer_errors_total{endpoint="/query",status_class="4xx"} 1',
      'dynamo_kvindexer_listeners{status="pending"} 0',
      'dynamo_kvindexer_models 0',
      'dynamo_kvindexer_workers 0',
      'dynamo_kvrouter_kv_cache_event_warnings{warning_kind="duplicate_store"} 0',
      'dynamo_kvrouter_ckf_mutation_total{outcome="unknown_remove"} 0',
    ]) {
      expect(text).toContain(line);
    }
    // Unmatched paths and /metrics itself are not counted.
    expect(text).not.toContain('endpoint="/nope"');
    expect(text).not.toContain('endpoint="/metrics"');
    const buckets = [
      ...text.matchAll(
        /dynamo_kvindexer_request_duration_seconds_bucket\{le="([^"]+)",endpoint="\/health"\}/g,
      ),
    ].map((m) => m[1]);
    expect(buckets).toEqual([
      '0.0001',
      '0.0002',
      '0.0004',
      '0.0008',
      '0.0016',
      '0.0032',
      '0.0064',
      '0.0128',
      '0.0256',
      '0.0512',
      '0.1024',
      '0.2048',
      '0.4096',
      '0.8192',
      '1.6384',
      '3.2768',
      '6.5536',
      '13.1072',
      '26.2144',
      '52.4288',
      '+Inf',
    ]);
    const applied = [
      ...text.matchAll(/^dynamo_kvrouter_kv_cache_events_applied\{event_type="(\w+)",status="(\w+)"\} 0$/gm),
    ];
    expect(applied).toHaveLength(27);
  });
});
