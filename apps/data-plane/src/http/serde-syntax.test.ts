import { describe, expect, it } from 'vitest';
import { findSyntaxProblem } from './serde-syntax.ts';

// serde_json's messages and positions (columns count bytes; EOF errors sit after the last byte).
const enc = new TextEncoder();
const problem = (text: string) => {
  const p = findSyntaxProblem(enc.encode(text));
  return p && `${p.message} at line ${p.line} column ${p.column}`;
};

describe('serde_json syntax diagnostics', () => {
  it.each([
    ['{"instance_id": 2, ', 'EOF while parsing a value at line 1 column 19'],
    ['{not json', 'key must be a string at line 1 column 2'],
    ['', 'EOF while parsing a value at line 1 column 0'],
    ['{', 'EOF while parsing an object at line 1 column 1'],
    ['{"a" 1}', 'expected `:` at line 1 column 6'],
    ['{"a":1 "b":2}', 'expected `,` or `}` at line 1 column 8'],
    ['{"a":1,}', 'trailing comma at line 1 column 8'],
    ['[1,2', 'EOF while parsing a list at line 1 column 4'],
    ['[1,]', 'trailing comma at line 1 column 4'],
    ['[1 2]', 'expected `,` or `]` at line 1 column 4'],
    ['{"a":tru}', 'expected ident at line 1 column 9'],
    ['{"a":01}', 'invalid number at line 1 column 7'],
    ['{"a":"x', 'EOF while parsing a string at line 1 column 7'],
    ['{"a":"\\q"}', 'invalid escape at line 1 column 8'],
    ['{"a":1} x', 'trailing characters at line 1 column 9'],
    ['{\n  "a": @\n}', 'expected value at line 2 column 8'],
    ['{"é": x}', 'expected value at line 1 column 8'],
  ])('%j -> %s', (text, expected) => {
    expect(problem(text)).toBe(expected);
  });

  it('accepts valid JSON', () => {
    expect(problem('{"a":[1,-2.5e3,true,null,"\\u00e9"]}')).toBeUndefined();
  });
});
