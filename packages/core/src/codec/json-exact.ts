/**
 * JSON with exact 64-bit integers. Dynamo writes u64 hashes and ids as bare JSON numbers up to
 * 2^64-1; `JSON.parse` would round them to doubles. Integers that fit a double exactly stay
 * numbers, larger ones become BigInt; the serializer writes BigInt as bare digits.
 */

export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export class JsonSyntaxError extends SyntaxError {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
    this.position = position;
  }
}

/** Nesting deeper than this is refused rather than overflowing the stack. */
const MAX_DEPTH = 512;

export function parseJsonExact(text: string): JsonValue {
  const parser = new ExactJsonParser(text);
  const value = parser.value(0);
  parser.skipWhitespace();
  if (parser.pos !== text.length) parser.fail('unexpected trailing characters');
  return value;
}

class ExactJsonParser {
  pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  fail(message: string): never {
    throw new JsonSyntaxError(message, this.pos);
  }

  skipWhitespace(): void {
    const t = this.text;
    let p = this.pos;
    while (p < t.length) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): JsonValue {
    this.skipWhitespace();
    if (this.pos >= this.text.length) this.fail('unexpected end of input');
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b /* { */:
        return this.object(depth + 1);
      case 0x5b /* [ */:
        return this.array(depth + 1);
      case 0x22 /* " */:
        return this.string();
      case 0x74 /* t */:
        return this.literal('true', true);
      case 0x66 /* f */:
        return this.literal('false', false);
      case 0x6e /* n */:
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(`unexpected character ${JSON.stringify(this.text[this.pos])}`);
    }
  }

  literal<T extends JsonValue>(word: string, result: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
    return result;
  }

  object(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    this.pos++;
    const out: { [key: string]: JsonValue } = {};
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key');
      const key = this.string();
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'");
      this.pos++;
      const v = this.value(depth);
      // Assignment to "__proto__" would replace the prototype instead of adding a key.
      if (key === '__proto__')
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x2c) continue;
      if (c === 0x7d) return out;
      this.pos--;
      this.fail("expected ',' or '}'");
    }
  }

  array(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x2c) continue;
      if (c === 0x5d) return out;
      this.pos--;
      this.fail("expected ',' or ']'");
    }
  }

  string(): string {
    const t = this.text;
    const start = ++this.pos;
    let p = start;
    // Fast path: no escapes.
    for (; p < t.length; p++) {
      const c = t.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return t.slice(start, p);
      }
      if (c === 0x5c) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
    }
    let out = t.slice(start, p);
    while (p < t.length) {
      const c = t.charCodeAt(p);
      if (c === 0x22) {
        this.pos = p + 1;
        return out;
      }
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      if (c !== 0x5c) {
        out += t[p];
        p++;
        continue;
      }
      const e = t[p + 1];
      p += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = t.slice(p, p + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = p;
            this.fail('invalid unicode escape');
          }
          out += String.fromCharCode(Number.parseInt(hex, 16));
          p += 4;
          break;
        }
        default:
          this.pos = p - 1;
          this.fail('invalid escape');
      }
    }
    this.pos = p;
    return this.fail('unterminated string');
  }

  number(): number | bigint {
    const t = this.text;
    const start = this.pos;
    let p = start;
    if (t.charCodeAt(p) === 0x2d) p++;
    const intStart = p;
    if (t.charCodeAt(p) === 0x30) p++;
    else {
      while (p < t.length && isDigit(t.charCodeAt(p))) p++;
    }
    if (p === intStart) {
      this.pos = p;
      this.fail('invalid number');
    }
    let integer = true;
    if (t.charCodeAt(p) === 0x2e) {
      integer = false;
      p++;
      const fracStart = p;
      while (p < t.length && isDigit(t.charCodeAt(p))) p++;
      if (p === fracStart) {
        this.pos = p;
        this.fail('invalid number');
      }
    }
    const e = t.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      p++;
      const s = t.charCodeAt(p);
      if (s === 0x2b || s === 0x2d) p++;
      const expStart = p;
      while (p < t.length && isDigit(t.charCodeAt(p))) p++;
      if (p === expStart) {
        this.pos = p;
        this.fail('invalid number');
      }
    }
    this.pos = p;
    const literal = t.slice(start, p);
    // 15 digits always fit a double exactly; longer integers are checked.
    if (!integer || p - intStart <= 15) return Number(literal);
    const n = Number(literal);
    return Number.isSafeInteger(n) ? n : BigInt(literal);
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Serializes like JSON.stringify (no indentation), writing BigInt and BigUint64Array values as bare integers. */
export function stringifyJsonExact(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join('');
}

function write(value: unknown, out: string[]): void {
  switch (typeof value) {
    case 'bigint':
      out.push(value.toString());
      return;
    case 'number':
      out.push(Number.isFinite(value) ? String(value) : 'null');
      return;
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      break;
    default:
      out.push('null');
      return;
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const items = value as ArrayLike<unknown>;
    out.push('[');
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out.push(',');
      const item = items[i];
      write(item === undefined || typeof item === 'function' ? null : item, out);
    }
    out.push(']');
    return;
  }
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') {
    write(json.call(value), out);
    return;
  }
  out.push('{');
  let first = true;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(key), ':');
    write(v, out);
  }
  out.push('}');
}
