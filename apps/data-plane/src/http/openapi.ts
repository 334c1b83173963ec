/**
 * The OpenAPI 3.1 description of every route (served at /openapi.json). Integers marked
 * `format: uint64` are exact in the JSON on the wire (never rounded through a double).
 */

const u64 = { type: 'integer', format: 'uint64', minimum: 0, maximum: 18446744073709551615n };
const u32 = { type: 'integer', format: 'uint32', minimum: 0, maximum: 4294967295 };
const status = { type: 'object', properties: { status: { const: 'ok' } }, required: ['status'] };
const error = {
  type: 'object',
  properties: { error: { type: 'string' }, field: { type: 'string' } },
  required: ['error'],
};
const text = (description: string) => ({
  description,
  content: { 'text/plain': { schema: { type: 'string' } } },
});
const json = (description: string, schema: unknown) => ({
  description,
  content: { 'application/json': { schema } },
});
const body = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } });
const frameworkErrors = {
  '400': text('Malformed JSON (serde_json message with line and column)'),
  '413': text('Body over the limit (8 MiB for /query, 2 MiB otherwise)'),
  '415': text('Content-Type is not application/json'),
  '422': text('Missing or mistyped field (serde message naming the field)'),
};

const listenerStatus = { type: 'string', enum: ['pending', 'active', 'paused', 'failed'] };
const tokens = { type: 'integer', minimum: 0, description: 'tokens (blocks × block_size)' };
const scoreResponse = {
  type: 'object',
  properties: {
    scores: {
      type: 'object',
      description: 'worker id → dp_rank → device-tier tokens (zeros omitted)',
      additionalProperties: { type: 'object', additionalProperties: tokens },
    },
    frequencies: { type: 'array', maxItems: 0 },
    instances: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: {
          longest_matched: tokens,
          gpu: tokens,
          dp: { type: 'object', additionalProperties: tokens },
          cpu: { ...tokens, description: 'cumulative: device + host-tier continuation' },
          disk: { ...tokens, description: 'cumulative: cpu + disk/external continuation' },
        },
        required: ['longest_matched', 'gpu', 'dp', 'cpu', 'disk'],
      },
    },
  },
  required: ['scores', 'frequencies', 'instances'],
};
const routingGroup = { type: 'string', default: 'default' };
const tenant = { type: 'string', description: 'accepted and ignored (not an alias of routing_group)' };
const workerInfo = {
  type: 'object',
  properties: {
    instance_id: u64,
    source: { const: 'zmq' },
    status: listenerStatus,
    model_name: { type: 'string' },
    routing_group: { type: 'string' },
    block_size: u32,
    endpoints: { type: 'object', additionalProperties: { type: 'string' } },
    listeners: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { endpoint: { type: 'string' }, status: listenerStatus, last_error: { type: 'string' } },
      },
    },
  },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'kvindex data plane',
      version: '0.1.0',
      description:
        "A KV-cache indexer for LLM fleets: NVIDIA Dynamo 1.6.1's standalone indexer API (same paths, fields, status codes and bodies) plus kvindex's operator routes under /v1.",
    },
    paths: {
      '/health': { get: { summary: 'Liveness', responses: { '200': { description: 'Empty body' } } } },
      '/register': {
        post: {
          summary: 'Register a worker dp rank and start its ZMQ listener',
          requestBody: body({
            type: 'object',
            required: ['instance_id', 'endpoint', 'model_name', 'block_size'],
            properties: {
              instance_id: u64,
              endpoint: { type: 'string', description: 'tcp://host:port, ipc://path or inproc://name' },
              model_name: { type: 'string' },
              routing_group: routingGroup,
              tenant_id: tenant,
              block_size: u32,
              dp_rank: { ...u32, default: 0 },
              replay_endpoint: { type: 'string' },
              additional_salt: { type: 'string', description: 'accepted and ignored' },
            },
          }),
          responses: {
            ...frameworkErrors,
            '201': json('Registered', status),
            '400': json('Invalid endpoint (JSON), or malformed JSON (text)', error),
            '409': json('Already registered, registered elsewhere, or block_size mismatch', error),
          },
        },
      },
      '/unregister': {
        post: {
          summary: 'Unregister an instance (or one dp rank with routing_group and dp_rank)',
          requestBody: body({
            type: 'object',
            required: ['instance_id', 'model_name'],
            properties: {
              instance_id: u64,
              model_name: { type: 'string' },
              routing_group: { type: 'string' },
              dp_rank: u32,
              tenant_id: tenant,
            },
          }),
          responses: {
            '200': json('Unregistered', status),
            '404': json('Unknown instance', error),
            ...frameworkErrors,
          },
        },
      },
      '/workers': {
        get: {
          summary: 'Registered workers',
          parameters: [
            { name: 'model_name', in: 'query', schema: { type: 'string' } },
            { name: 'routing_group', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': json('Workers', { type: 'array', items: workerInfo }) },
        },
      },
      '/query': {
        post: {
          summary: 'Score a prompt against every worker of a (model, routing_group)',
          requestBody: body({
            type: 'object',
            required: ['token_ids', 'model_name'],
            properties: {
              token_ids: { type: 'array', items: u32 },
              model_name: { type: 'string' },
              routing_group: routingGroup,
              tenant_id: tenant,
              lora_name: { type: 'string' },
              cache_salt: { type: 'string' },
            },
          }),
          responses: {
            '200': json('Scores', scoreResponse),
            '404': json('No indexer for the model', error),
            ...frameworkErrors,
          },
        },
      },
      '/query_by_hash': {
        post: {
          summary: 'Score precomputed local block hashes (i64 two’s complement)',
          requestBody: body({
            type: 'object',
            required: ['block_hashes', 'model_name'],
            properties: {
              block_hashes: { type: 'array', items: { type: 'integer', format: 'int64' } },
              model_name: { type: 'string' },
              routing_group: routingGroup,
              tenant_id: tenant,
            },
          }),
          responses: {
            ...frameworkErrors,
            '200': json('Scores', scoreResponse),
            '400': json('cache_salt given (JSON), or malformed JSON (text)', error),
            '404': json('No indexer for the model', error),
          },
        },
      },
      '/dump': {
        get: {
          summary: 'The index as RouterEvents per "<model>:<routing_group>"',
          responses: {
            '200': json('Dump', {
              type: 'object',
              additionalProperties: {
                type: 'object',
                properties: { block_size: u32, events: { type: 'array', items: { type: 'object' } } },
              },
            }),
          },
        },
      },
      '/register_peer': {
        post: {
          summary: 'Add a peer indexer URL',
          requestBody: body({ type: 'object', required: ['url'], properties: { url: { type: 'string' } } }),
          responses: { '201': json('Added', status), ...frameworkErrors },
        },
      },
      '/deregister_peer': {
        post: {
          summary: 'Remove a peer indexer URL',
          requestBody: body({ type: 'object', required: ['url'], properties: { url: { type: 'string' } } }),
          responses: {
            '200': json('Removed', status),
            '404': json('Unknown peer', error),
            ...frameworkErrors,
          },
        },
      },
      '/peers': {
        get: {
          summary: 'Peer URLs',
          responses: { '200': json('Peers', { type: 'array', items: { type: 'string' } }) },
        },
      },
      '/reopen_logs': {
        post: { summary: 'Reopen the access log (rotation)', responses: { '200': json('Reopened', status) } },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', responses: { '200': text('Exposition format 0.0.4') } },
      },
      '/readyz': {
        get: {
          summary:
            'Ready once every listener caught up, failed visibly, or stayed unreachable past the grace period',
          responses: {
            '200': json('Ready', { type: 'object' }),
            '503': json('Not ready; lists what it waits for', { type: 'object' }),
          },
        },
      },
      '/v1/route': {
        post: {
          summary:
            "Pick the worker for a request by Dynamo's cost model (overlap weight x prefill blocks + decode blocks); the request then counts as active there",
          requestBody: body({
            type: 'object',
            required: ['model_name', 'request_id'],
            properties: {
              model_name: { type: 'string' },
              routing_group: routingGroup,
              request_id: { type: 'string' },
              token_ids: {
                type: 'array',
                items: u32,
                description: 'exactly one of token_ids and block_hashes',
              },
              block_hashes: {
                type: 'array',
                items: { type: 'integer', format: 'int64' },
                description: "local block hashes (u64, or i64 two's complement)",
              },
              lora_name: { type: 'string' },
              allowed_worker_ids: { type: 'array', items: u64 },
              expected_output_tokens: u32,
            },
          }),
          responses: {
            '200': json('The chosen worker', {
              type: 'object',
              properties: {
                worker_id: u64,
                dp_rank: u32,
                overlap_blocks: u32,
                logits: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      worker_id: u64,
                      dp_rank: u32,
                      logit: { type: 'number' },
                      overlap_blocks: u32,
                    },
                  },
                },
              },
            }),
            '404': json('No indexer for the model and routing group', error),
            '409': json('Duplicate request_id', error),
            '422': json('Invalid field (named)', error),
            '503': json('No eligible worker', error),
          },
        },
      },
      '/v1/free': {
        post: {
          summary: 'The request finished: release its blocks and prefill on its worker',
          requestBody: body({
            type: 'object',
            required: ['request_id'],
            properties: { request_id: { type: 'string' } },
          }),
          responses: { '200': json('Freed', status), '404': json('Request not active', error) },
        },
      },
      '/v1/mark_prefill_completed': {
        post: {
          summary: "The request's prefill finished: its prompt tokens no longer count as prefill load",
          requestBody: body({
            type: 'object',
            required: ['request_id'],
            properties: { request_id: { type: 'string' } },
          }),
          responses: {
            '200': json('Marked', status),
            '404': json('Request not active or past prefill', error),
          },
        },
      },
      '/v1/models': {
        get: {
          summary:
            'Per (model, routing_group): workers, listener statuses, blocks per tier, events/s, lag, gaps, replays',
          responses: {
            '200': json('Models', {
              type: 'object',
              properties: { models: { type: 'array', items: { type: 'object' } } },
            }),
          },
        },
      },
      '/v1/models/{model}/workers': {
        put: {
          summary:
            "Set the model's full desired worker set (every routing group) and peers; idempotent. Body: core's ModelWorkerSet",
          parameters: [{ name: 'model', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: body({
            type: 'object',
            required: ['workers'],
            properties: {
              generation: { type: 'string', description: "the sender's version of this set, echoed back" },
              workers: {
                type: 'array',
                description:
                  'one entry per (instance_id, dp_rank); instances absent from the set are unsubscribed',
                items: {
                  type: 'object',
                  required: ['instance_id', 'endpoint', 'block_size', 'generation'],
                  properties: {
                    instance_id: u64,
                    dp_rank: { ...u32, default: 0 },
                    endpoint: { type: 'string', description: "the engine's ZMQ PUB endpoint for this rank" },
                    replay_endpoint: {
                      type: 'string',
                      description: "the engine's ZMQ ROUTER replay endpoint",
                    },
                    block_size: u32,
                    routing_group: routingGroup,
                    generation: {
                      type: 'string',
                      description:
                        'engine incarnation (pod uid + restart count); a change clears the worker and re-subscribes',
                    },
                  },
                },
              },
              peers: {
                type: 'array',
                items: { type: 'string' },
                description: "the model's other indexer replicas",
              },
            },
          }),
          responses: {
            '200': json('Applied', {
              type: 'object',
              properties: {
                model_name: { type: 'string' },
                generation: { type: 'string' },
                added: { type: 'array', items: u64 },
                removed: { type: 'array', items: u64 },
                restarted: { type: 'array', items: u64 },
                updated: { type: 'array', items: u64 },
                unchanged: { type: 'array', items: u64 },
                routing_groups: { type: 'array', items: { type: 'object' } },
                peers: { type: 'array', items: { type: 'string' } },
              },
            }),
            '400': json('Invalid endpoint (field named)', error),
            '409': json('Instance registered elsewhere or block_size conflict', error),
            '415': json('Content-Type is not application/json', error),
            '422': json('Invalid field (named)', error),
          },
        },
      },
      '/v1/stats': {
        get: {
          summary: 'Query rate and latency, recent prompts, ingest queue',
          responses: { '200': json('Stats', { type: 'object' }) },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': json('OpenAPI', { type: 'object' }) } },
      },
      '/': { get: { summary: 'Dashboard', responses: { '200': { description: 'HTML' } } } },
    },
  };
}
