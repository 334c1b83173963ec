/**
 * serde_json's syntax diagnostics, so a malformed body gets the text Dynamo's axum server sends
 * ("EOF while parsing a value at line 1 column 19"). Only consulted once the exact parser has
 * refused a body; it walks the bytes the way serde_json does and reports the first error.
 *
 * Positions follow serde_json: an error at end of input is at the number of bytes read on the
 * line; any other error is at the 1-based column of the offending byte.
 */

export interface SyntaxProblem {
  message: string;
  line: number;
  column: number;
}

/** serde_json's default recursion limit. */
const MAX_DEPTH = 128;

class Found extends Error {
  readonly offset: number;
  readonly eof: boolean;
  constructor(message: string, offset: number, eof: boolean) {
    super(message);
    this.offset = offset;
    this.eof = eof;
  }
}

/** Line and column of a byte offset, serde_json style (`column` = bytes since the line start). */
export function lineColumn(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, bytes.length);
  for (let i = 0; i < end; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart };
}

export function findSyntaxProblem(bytes: Uint8Array): SyntaxProblem | undefined {
  const walker = new Walker(bytes);
  try {
    walker.value(0);
    walker.ws();
    if (walker.pos < bytes.length) walker.peekFail('trailing characters');
    return undefined;
  } catch (err) {
    if (!(err instanceof Found)) throw err;
    // EOF errors sit after the last byte read; the others name the offending byte (1-based).
    const { line, column } = lineColumn(bytes, err.offset);
    return { message: err.message, line, column: err.eof ? column : column + 1 };
  }
}

class Walker {
  pos = 0;
  private readonly b: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.b = bytes;
  }

  eof(message: string): never {
    throw new Found(message, this.b.length, true);
  }

  /** An error naming the byte at `pos`. */
  peekFail(message: string): never {
    throw new Found(message, this.pos, false);
  }

  ws(): void {
    const b = this.b;
    while (this.pos < b.length) {
      const c = b[this.pos]!;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): void {
    this.ws();
    if (this.pos >= this.b.length) this.eof('EOF while parsing a value');
    const c = this.b[this.pos]!;
    if (c === 0x7b) this.object(depth + 1);
    else if (c === 0x5b) this.array(depth + 1);
    else if (c === 0x22) this.string();
    else if (c === 0x74) this.ident('true');
    else if (c === 0x66) this.ident('false');
    else if (c === 0x6e) this.ident('null');
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) this.number();
    else this.peekFail('expected value');
  }

  ident(word: string): void {
    this.pos++;
    for (let i = 1; i < word.length; i++) {
      if (this.pos >= this.b.length) this.eof('EOF while parsing a value');
      if (this.b[this.pos] !== word.charCodeAt(i)) this.peekFail('expected ident');
      this.pos++;
    }
  }

  number(): void {
    const b = this.b;
    if (b[this.pos] === 0x2d) {
      this.pos++;
      if (this.pos >= b.length) this.eof('EOF while parsing a value');
    }
    const first = b[this.pos]!;
    if (first === 0x30) {
      this.pos++;
      const next = b[this.pos];
      if (next !== undefined && next >= 0x30 && next <= 0x39) this.peekFail('invalid number');
    } else if (first >= 0x31 && first <= 0x39) {
      while (this.pos < b.length && isDigit(b[this.pos]!)) this.pos++;
    } else {
      this.peekFail('invalid number');
    }
    if (b[this.pos] === 0x2e) {
      this.pos++;
      if (this.pos >= b.length) this.eof('EOF while parsing a value');
      if (!isDigit(b[this.pos]!)) this.peekFail('invalid number');
      while (this.pos < b.length && isDigit(b[this.pos]!)) this.pos++;
    }
    const e = b[this.pos];
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const s = b[this.pos];
      if (s === 0x2b || s === 0x2d) this.pos++;
      if (this.pos >= b.length) this.eof('EOF while parsing a value');
      if (!isDigit(b[this.pos]!)) this.peekFail('invalid number');
      while (this.pos < b.length && isDigit(b[this.pos]!)) this.pos++;
    }
  }

  string(): void {
    const b = this.b;
    this.pos++;
    for (;;) {
      if (this.pos >= b.length) this.eof('EOF while parsing a string');
      const c = b[this.pos]!;
      if (c === 0x22) {
        this.pos++;
        return;
      }
      if (c < 0x20) this.peekFail('control character (\\u0000-\\u001F) found while parsing a string');
      if (c === 0x5c) {
        this.pos++;
        if (this.pos >= b.length) this.eof('EOF while parsing a string');
        const e = b[this.pos]!;
        if (e === 0x75) {
          for (let i = 0; i < 4; i++) {
            this.pos++;
            if (this.pos >= b.length) this.eof('EOF while parsing a string');
            if (!isHex(b[this.pos]!)) this.peekFail('invalid escape');
          }
        } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
          this.peekFail('invalid escape');
        }
      }
      this.pos++;
    }
  }

  array(depth: number): void {
    if (depth > MAX_DEPTH) this.peekFail('recursion limit exceeded');
    this.pos++;
    this.ws();
    if (this.pos >= this.b.length) this.eof('EOF while parsing a list');
    if (this.b[this.pos] === 0x5d) {
      this.pos++;
      return;
    }
    for (;;) {
      this.value(depth);
      this.ws();
      if (this.pos >= this.b.length) this.eof('EOF while parsing a list');
      const c = this.b[this.pos]!;
      if (c === 0x5d) {
        this.pos++;
        return;
      }
      if (c !== 0x2c) this.peekFail('expected `,` or `]`');
      this.pos++;
      this.ws();
      if (this.pos >= this.b.length) this.eof('EOF while parsing a value');
      if (this.b[this.pos] === 0x5d) this.peekFail('trailing comma');
    }
  }

  object(depth: number): void {
    if (depth > MAX_DEPTH) this.peekFail('recursion limit exceeded');
    this.pos++;
    this.ws();
    if (this.pos >= this.b.length) this.eof('EOF while parsing an object');
    if (this.b[this.pos] === 0x7d) {
      this.pos++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.pos >= this.b.length) this.eof('EOF while parsing an object');
      if (this.b[this.pos] !== 0x22) this.peekFail('key must be a string');
      this.string();
      this.ws();
      if (this.pos >= this.b.length) this.eof('EOF while parsing an object');
      if (this.b[this.pos] !== 0x3a) this.peekFail('expected `:`');
      this.pos++;
      this.value(depth);
      this.ws();
      if (this.pos >= this.b.length) this.eof('EOF while parsing an object');
      const c = this.b[this.pos]!;
      if (c === 0x7d) {
        this.pos++;
        return;
      }
      if (c !== 0x2c) this.peekFail('expected `,` or `}`');
      this.pos++;
      this.ws();
      if (this.pos >= this.b.length) this.eof('EOF while parsing a value');
      if (this.b[this.pos] === 0x7d) this.peekFail('trailing comma');
    }
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
