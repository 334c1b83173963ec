import { describe, expect, it } from 'vitest';
import { DecodeError } from '../codec/decode-error.ts';
import { type ModelWorkerSet, parseModelWorkerSet, stringifyModelWorkerSet } from './model-workers.ts';

const set: ModelWorkerSet = {
  generation: 'g7',
  workers: [
    {
      instance_id: 0xfedc_ba98_7654_3210n,
      dp_rank: 1,
      endpoint: 'tcp://127.0.0.2:5558',
      replay_endpoint: 'tcp://127.0.0.2:5568',
      block_size: 16,
      routing_group: 'h100',
      generation: '0b0c-uid:2',
    },
  ],
  peers: ['http://127.0.0.9:8080'],
};

describe('PUT /v1/models/{model}/workers body', () => {
  it('round-trips u64 ids exactly', () => {
    const text = stringifyModelWorkerSet(set);
    expect(text).toContain('"instance_id":18364758544493064720');
    expect(parseModelWorkerSet(text)).toEqual(set);
  });

  it('defaults dp_rank, routing_group and peers', () => {
    const parsed = parseModelWorkerSet(
      '{"workers":[{"instance_id":5,"endpoint":"tcp://a:1","block_size":32,"generation":"x"}]}',
    );
    expect(parsed).toEqual({
      workers: [
        {
          instance_id: 5n,
          dp_rank: 0,
          endpoint: 'tcp://a:1',
          block_size: 32,
          routing_group: 'default',
          generation: 'x',
        },
      ],
      peers: [],
    });
  });

  it.each([
    [
      '{"workers":[{"instance_id":-1,"endpoint":"e","block_size":1,"generation":"g"}]}',
      'workers[0].instance_id',
    ],
    ['{"workers":[{"instance_id":1,"endpoint":"","block_size":1,"generation":"g"}]}', 'workers[0].endpoint'],
    [
      '{"workers":[{"instance_id":1,"endpoint":"e","block_size":0,"generation":"g"}]}',
      'workers[0].block_size',
    ],
    ['{"workers":[{"instance_id":1,"endpoint":"e","block_size":4}]}', 'workers[0].generation'],
    ['{"peers":[]}', 'workers'],
    [
      '{"workers":[{"instance_id":1,"endpoint":"e","block_size":4,"generation":"g"},{"instance_id":1,"endpoint":"f","block_size":4,"generation":"g"}]}',
      'workers[1]',
    ],
  ])('rejects %s at %s', (text, field) => {
    let error: unknown;
    try {
      parseModelWorkerSet(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).field).toBe(field);
  });
});
