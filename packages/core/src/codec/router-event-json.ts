import type { RouterEvent } from '../events/router-event.ts';
import { DecodeError } from './decode-error.ts';
import { JsonSyntaxError, parseJsonExact, stringifyJsonExact } from './json-exact.ts';
import { routerEventFromValue, routerEventToValue } from './router-event-value.ts';

/** Dynamo's serde JSON for a RouterEvent, u64 exact both ways. */
export function encodeRouterEventJson(event: RouterEvent): string {
  return stringifyJsonExact(routerEventToValue(event));
}

export function decodeRouterEventJson(text: string): RouterEvent {
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new DecodeError('', `invalid JSON: ${err.message}`);
    throw err;
  }
  return routerEventFromValue(value);
}
