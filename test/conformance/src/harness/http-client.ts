import { type JsonValue, parseJsonExact, stringifyJsonExact } from '@kvindex/core';

export interface HttpReply {
  status: number;
  /** The content-type header, or null when absent. */
  contentType: string | null;
  text: string;
  /** The body read with exact u64s when it is JSON; undefined otherwise. */
  json: JsonValue | undefined;
}

export interface RequestOptions {
  /** A value (written with exact u64s) or a raw body string sent as is. */
  body?: unknown;
  /** Defaults to application/json when there is a body; null sends no content-type at all. */
  contentType?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** A typed client for the Dynamo indexer API, shared by every service under test. */
export class HttpClient {
  readonly baseUrl: string;
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpReply> {
    const headers: Record<string, string> = { ...options.headers };
    let body: Uint8Array | undefined;
    if (options.body !== undefined) {
      const text = typeof options.body === 'string' ? options.body : stringifyJsonExact(options.body);
      // A Uint8Array body keeps fetch from adding a content-type of its own.
      body = new TextEncoder().encode(text);
      const type = options.contentType === undefined ? 'application/json' : options.contentType;
      if (type !== null) headers['content-type'] = type;
    }
    const res = await fetch(this.baseUrl + path, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    const contentType = res.headers.get('content-type');
    let json: JsonValue | undefined;
    if (contentType?.startsWith('application/json')) json = parseJsonExact(text);
    return { status: res.status, contentType, text, json };
  }

  get(path: string): Promise<HttpReply> {
    return this.request('GET', path);
  }

  post(path: string, body: unknown, options: Omit<RequestOptions, 'body'> = {}): Promise<HttpReply> {
    return this.request('POST', path, { ...options, body });
  }

  async ok(method: 'GET' | 'POST', path: string, body?: unknown): Promise<JsonValue> {
    const reply = await this.request(method, path, body === undefined ? {} : { body });
    if (reply.status < 200 || reply.status >= 300) {
      throw new Error(`${method} ${this.baseUrl}${path} → ${reply.status} ${reply.text}`);
    }
    return reply.json ?? null;
  }

  register(body: RegisterBody): Promise<HttpReply> {
    return this.post('/register', body);
  }

  unregister(body: { instance_id: bigint; model_name: string; routing_group?: string; dp_rank?: number }) {
    return this.post('/unregister', body);
  }

  query(body: QueryBody): Promise<HttpReply> {
    return this.post('/query', body);
  }

  queryByHash(body: { block_hashes: bigint[]; model_name: string; routing_group?: string }) {
    return this.post('/query_by_hash', body);
  }

  async dump(): Promise<JsonValue> {
    return this.ok('GET', '/dump');
  }

  async workers(query = ''): Promise<JsonValue> {
    return this.ok('GET', `/workers${query}`);
  }
}

export interface RegisterBody {
  instance_id: bigint;
  endpoint: string;
  model_name: string;
  block_size: number;
  dp_rank?: number;
  routing_group?: string;
  replay_endpoint?: string;
}

export interface QueryBody {
  token_ids: readonly number[];
  model_name: string;
  routing_group?: string;
  lora_name?: string;
  cache_salt?: string;
}
