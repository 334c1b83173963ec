import { describe, expect, it } from 'vitest';
import { HttpError, parseBody, readJsonRequest } from './json-body.ts';
import { PlainStructScanner } from './plain-struct-scan.ts';
import { QUERY } from './routes-dynamo.ts';
import { decodeStruct } from './serde-struct.ts';

const scanner = new PlainStructScanner(QUERY);
const bytes = (s: string) => Buffer.from(s, 'utf8');

/** What the exact path makes of a body: the decoded record, or the error's status and text. */
function exact(body: string): unknown {
  const b = bytes(body);
  try {
    const { value, mayHaveFloats } = parseBody(b);
    return decodeStruct(QUERY, value, b, mayHaveFloats);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('PlainStructScanner (the /query fast path)', () => {
  it('decodes well-formed bodies exactly as the exact parser and serde-style decoder do', () => {
    const accepted = [
      '{"token_ids": [1, 2, 3, 4], "model_name": "m"}',
      '{"model_name":"m","token_ids":[]}',
      ' \r\n\t{ "token_ids" : [ 0 , 4294967295 ,7] , "model_name" : "llama3.1-8b" }\n ',
      '{"token_ids": [5], "model_name": "m", "routing_group": "g", "tenant_id": "t"}',
      '{"token_ids": [5], "model_name": "m", "lora_name": null, "cache_salt": "s"}',
      '{"token_ids": [5], "model_name": "m", "extra": 12, "flag": true, "n": null, "neg": -3, "s": "x"}',
    ];
    for (const body of accepted) {
      const fast = scanner.scan(bytes(body));
      expect(fast, body).toBeDefined();
      expect(fast, body).toEqual(exact(body));
    }
  });

  it('hands every body it is not sure about to the exact path', () => {
    const declined = [
      '',
      '[]',
      '{}',
      '{"token_ids": [1, 2]}',
      '{"model_name": "m"}',
      '{"token_ids": [-1], "model_name": "m"}',
      '{"token_ids": [4294967296], "model_name": "m"}',
      '{"token_ids": [1.0], "model_name": "m"}',
      '{"token_ids": [1e2], "model_name": "m"}',
      '{"token_ids": [01], "model_name": "m"}',
      '{"token_ids": [1,], "model_name": "m"}',
      '{"token_ids": [1 2], "model_name": "m"}',
      '{"token_ids": [1], "model_name": "m\\u0041"}',
      '{"token_ids": [1], "model_name": "mé"}',
      '{"token_ids": [1], "model_name": null}',
      '{"token_ids": [1], "model_name": "m", "routing_group": null}',
      '{"token_ids": [1], "model_name": "m", "model_name": "n"}',
      '{"token_ids": [1], "model_name": "m", "x": {"a": 1}}',
      '{"token_ids": [1], "model_name": "m", "x": 1.5}',
      '{"token_ids": [1], "model_name": "m", "x": 12345678901234567890}',
      '{"token_ids": [1], "model_name": "m",}',
      '{"token_ids": [1], "model_name": "m"} x',
      '{"token_ids": [1], "model_name": "m"',
      '{"token_ids": [1',
      '{"token_ids": "1", "model_name": "m"}',
      '\ufeff{"token_ids": [1], "model_name": "m"}',
    ];
    for (const body of declined) expect(scanner.scan(bytes(body)), body).toBeUndefined();
  });

  it('leaves errors to the exact path: same status and text with or without the scanner', () => {
    const bodies = [
      '{"token_ids": [4294967296, 2, 3, 4], "model_name": "m"}',
      '{"token_ids": [1, 2, 3], "model_name": "m"',
      '{"token_ids": [1, 2.5], "model_name": "m"}',
      '{"token_ids": [1, 2]}',
      '{"token_ids": [1], "model_name": "m", "routing_group": null}',
    ];
    const outcome = (body: string, withScanner: boolean) => {
      try {
        return readJsonRequest('application/json', bytes(body), QUERY, withScanner ? scanner : undefined);
      } catch (err) {
        return err instanceof HttpError ? [err.status, err.body] : err;
      }
    };
    for (const body of bodies) {
      const answer = outcome(body, true);
      expect(Array.isArray(answer), body).toBe(true);
      expect(answer, body).toEqual(outcome(body, false));
    }
  });

  it('reads long prompts, growing its buffer; results are views valid until the next scan', () => {
    const tokens = Array.from({ length: 40_000 }, (_, i) => (i * 2654435761) % 2 ** 32);
    const body = JSON.stringify({ model_name: 'm', token_ids: tokens });
    const first = scanner.scan(bytes(body))!.token_ids as Uint32Array;
    expect(Array.from(first)).toEqual(tokens);
    const second = scanner.scan(bytes('{"token_ids": [9, 8, 7], "model_name": "m"}'))!
      .token_ids as Uint32Array;
    expect(Array.from(second)).toEqual([9, 8, 7]);
    expect(second.buffer).toBe(first.buffer);
  });

  it('refuses specs with field kinds it cannot read', () => {
    expect(() => new PlainStructScanner({ name: 'X', fields: [{ name: 'id', kind: 'u64' }] })).toThrow(
      /X.id is u64/,
    );
  });
});
