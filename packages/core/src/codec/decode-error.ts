/** A wire value that does not fit the event model; `field` is the path to the offending value. */
export class DecodeError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'DecodeError';
    this.field = field;
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  switch (typeof value) {
    case 'bigint':
    case 'number':
      return String(value);
    case 'string':
      return value.length > 40 ? `a string of ${value.length} chars` : JSON.stringify(value);
    default:
      return `a ${typeof value}`;
  }
}
