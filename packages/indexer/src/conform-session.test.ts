import { describe, expect, it } from 'vitest';
import { ConformSession } from './conform-session.ts';

const store =
  '{"event":{"worker_id":1,"storage_tier":"device","event":{"event_id":1,"dp_rank":0,"data":{"stored":{"parent_hash":null,"blocks":[{"block_hash":18446744073709551615,"tokens_hash":1},{"block_hash":102,"tokens_hash":18446744073709551615}]}}}}}';

describe('ConformSession', () => {
  it('answers each command line with one line, u64 exact, and skips blank and # lines', () => {
    const session = new ConformSession();
    expect(session.handle('')).toBeNull();
    expect(session.handle('# a comment')).toBeNull();
    expect(session.handle(store)).toBe('{"status":"ok"}');
    expect(session.handle('{"find":[1,18446744073709551615]}')).toBe(
      '{"scores":{"1:0":2},"tree_sizes":{"1:0":2},"current_size":2}',
    );
    expect(session.handle('{"find":[1],"tree_sizes":false,"early_exit":true}')).toBe(
      '{"scores":{"1:0":1},"current_size":2}',
    );
    expect(session.handle('{"dump":true}')).toContain(
      '"blocks":[[1,0,null,18446744073709551615,1],[1,0,18446744073709551615,102,18446744073709551615]]',
    );
    expect(session.handle('{"remove_worker_dp_rank":[1,0]}')).toBe('{"status":"ok"}');
    expect(session.handle('{"find":[1]}')).toBe('{"scores":{},"tree_sizes":{},"current_size":0}');
  });

  it("names statuses as Dynamo's KvCacheEventError variants", () => {
    const session = new ConformSession();
    const ev = (data: string) =>
      `{"event":{"worker_id":1,"storage_tier":"device","event":{"event_id":1,"dp_rank":0,"data":${data}}}}`;
    expect(
      session.handle(ev('{"stored":{"parent_hash":5,"blocks":[{"block_hash":6,"tokens_hash":6}]}}')),
    ).toBe('{"status":"ParentBlockNotFound"}');
    expect(session.handle(ev('{"removed":{"block_hashes":[6]}}'))).toBe('{"status":"BlockNotFound"}');
    expect(
      session.handle(ev('{"stored":{"parent_hash":6,"blocks":[{"block_hash":6,"tokens_hash":6}]}}')),
    ).toBe('{"status":"InvalidBlockSequence"}');
    expect(session.handle(ev('"cleared"'))).toBe('{"status":"ok"}');
  });

  it('answers malformed input with bad_input and goes on', () => {
    const session = new ConformSession();
    for (const line of [
      'not json',
      '{"frobnicate":1}',
      '{}',
      '[1,2]',
      '{"find":[-1]}',
      '{"find":[18446744073709551616]}',
      '{"find":[1.5]}',
      '{"find":[1],"dump":true}',
      '{"dump":false}',
      '{"dump":true,"early_exit":true}',
      '{"remove_worker_dp_rank":[1]}',
      '{"clear_all_blocks":null}',
      '{"event":{"worker_id":1,"event":{"event_id":1}}}',
    ]) {
      const answer = session.handle(line);
      expect(answer, line).toMatch(/^\{"status":"bad_input","error":".+"\}$/);
    }
    expect(session.handle(store)).toBe('{"status":"ok"}');
  });
});
