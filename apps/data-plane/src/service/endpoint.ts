/**
 * ZMQ endpoint validation with Dynamo's messages (`/register`, `--workers`): `tcp://host:port`
 * (bracketed IPv6 allowed), `ipc://…` and `inproc://…`.
 */
export function zmqEndpointError(endpoint: string): string | undefined {
  const sep = endpoint.indexOf('://');
  if (sep === -1) return `invalid ZMQ endpoint \`${endpoint}\`: missing scheme`;
  const scheme = endpoint.slice(0, sep);
  const address = endpoint.slice(sep + 3);
  if (address === '') return `invalid ZMQ endpoint \`${endpoint}\`: missing address`;
  if (scheme === 'ipc' || scheme === 'inproc') return undefined;
  if (scheme !== 'tcp') return `invalid ZMQ endpoint \`${endpoint}\`: unsupported scheme \`${scheme}\``;
  const colon = address.lastIndexOf(':');
  if (colon === -1) return `invalid ZMQ endpoint \`${endpoint}\`: missing TCP port`;
  const host = address.slice(0, colon);
  const port = address.slice(colon + 1);
  if (host === '') return `invalid ZMQ endpoint \`${endpoint}\`: missing TCP host`;
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return `invalid ZMQ endpoint \`${endpoint}\`: missing closing \`]\``;
  } else if (host.includes(':')) {
    return `invalid ZMQ endpoint \`${endpoint}\`: missing TCP port`;
  }
  const portError = u16ParseError(port);
  if (portError) return `invalid ZMQ endpoint \`${endpoint}\`: invalid TCP port: ${portError}`;
  return undefined;
}

/** Rust's `str::parse::<u16>` error text, or undefined when it parses. */
function u16ParseError(s: string): string | undefined {
  if (s === '') return 'cannot parse integer from empty string';
  const digits = s.startsWith('+') ? s.slice(1) : s;
  if (digits === '' || !/^[0-9]+$/.test(digits)) return 'invalid digit found in string';
  if (BigInt(digits) > 65535n) return 'number too large to fit in target type';
  return undefined;
}

/** `/register`'s check of both endpoints. */
export function listenerEndpointsError(
  endpoint: string,
  replayEndpoint: string | undefined,
): string | undefined {
  const main = zmqEndpointError(endpoint);
  if (main) return main;
  if (replayEndpoint !== undefined) {
    const replay = zmqEndpointError(replayEndpoint);
    if (replay) return `invalid replay endpoint \`${replayEndpoint}\`: ${replay}`;
  }
  return undefined;
}
