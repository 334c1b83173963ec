import { describe, expect, it } from 'vitest';
import { listenerEndpointsError, zmqEndpointError } from './endpoint.ts';

describe("ZMQ endpoint validation (Dynamo's messages)", () => {
  it.each([
    ['tcp://127.0.0.1:5557', undefined],
    ['tcp://*:5558', undefined],
    ['tcp://[::1]:5557', undefined],
    ['ipc:///tmp/x.sock', undefined],
    ['inproc://listener', undefined],
    ['not-a-url', 'invalid ZMQ endpoint `not-a-url`: missing scheme'],
    ['', 'invalid ZMQ endpoint ``: missing scheme'],
    ['http://127.0.0.1:5557', 'invalid ZMQ endpoint `http://127.0.0.1:5557`: unsupported scheme `http`'],
    ['tcp://127.0.0.1', 'invalid ZMQ endpoint `tcp://127.0.0.1`: missing TCP port'],
    ['tcp://:5558', 'invalid ZMQ endpoint `tcp://:5558`: missing TCP host'],
    ['tcp://', 'invalid ZMQ endpoint `tcp://`: missing address'],
    [
      'tcp://h:99999',
      'invalid ZMQ endpoint `tcp://h:99999`: invalid TCP port: number too large to fit in target type',
    ],
    ['tcp://h:x', 'invalid ZMQ endpoint `tcp://h:x`: invalid TCP port: invalid digit found in string'],
    ['tcp://[::1:5', 'invalid ZMQ endpoint `tcp://[::1:5`: missing closing `]`'],
  ])('%j', (endpoint, error) => {
    expect(zmqEndpointError(endpoint)).toBe(error);
  });

  it('prefixes replay endpoint errors', () => {
    expect(listenerEndpointsError('tcp://h:1', 'bogus')).toBe(
      'invalid replay endpoint `bogus`: invalid ZMQ endpoint `bogus`: missing scheme',
    );
  });
});
