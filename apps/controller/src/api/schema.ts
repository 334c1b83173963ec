// A small builder for Kubernetes structural OpenAPI v3 schemas that also carries each schema's
// TypeScript type, so the CRD is written once: `Infer<typeof s>` is the type of an object the
// apiserver returns (after defaulting), and `s.json` is what goes into the CRD.

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps that CRDs use, in wire spelling. */
export interface JsonSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, JsonSchemaProps>;
  required?: string[];
  items?: JsonSchemaProps;
  additionalProperties?: JsonSchemaProps;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-embedded-resource'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: CelRule[];
}

/** A CEL validation rule (x-kubernetes-validations). */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
}

/**
 * A schema whose values have type T. `Defaulted` records that the apiserver fills the field when it
 * is absent, so objects read back always carry it.
 */
export interface Schema<T, Defaulted extends boolean = false> {
  readonly json: JsonSchemaProps;
  /** Type-level only; never set. */
  readonly __type?: T;
  readonly __defaulted?: Defaulted;
}

export type Infer<S> = S extends Schema<infer T, boolean> ? T : never;

interface Common {
  description?: string;
  validations?: CelRule[];
}

function make<T>(json: JsonSchemaProps, common: Common): Schema<T> {
  const out: JsonSchemaProps = { ...json };
  if (common.description !== undefined) out.description = common.description;
  if (common.validations?.length) out['x-kubernetes-validations'] = common.validations;
  return { json: orderKeys(out) };
}

// Emitted YAML reads best with the description first and nested schemas last.
const keyOrder = ['description', 'type', 'format'];
function orderKeys(json: JsonSchemaProps): JsonSchemaProps {
  const entries = Object.entries(json).sort(([a], [b]) => rank(a) - rank(b));
  return Object.fromEntries(entries) as JsonSchemaProps;
}
function rank(key: string): number {
  const i = keyOrder.indexOf(key);
  if (i >= 0) return i;
  if (key === 'properties' || key === 'items' || key === 'additionalProperties') return 100;
  return 10;
}

export interface StringOptions extends Common {
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}

export function string(options: StringOptions = {}): Schema<string> {
  const { description, validations, ...rest } = options;
  return make({ type: 'string', ...rest }, { description, validations });
}

export function oneOf<const V extends string>(values: readonly V[], options: Common = {}): Schema<V> {
  return make({ type: 'string', enum: [...values] }, options);
}

export interface NumberOptions extends Common {
  minimum?: number;
  maximum?: number;
}

export function integer(options: NumberOptions & { format?: 'int32' | 'int64' } = {}): Schema<number> {
  const { description, validations, ...rest } = options;
  return make({ type: 'integer', ...rest }, { description, validations });
}

export function number(options: NumberOptions = {}): Schema<number> {
  const { description, validations, ...rest } = options;
  return make({ type: 'number', ...rest }, { description, validations });
}

export function boolean(options: Common = {}): Schema<boolean> {
  return make({ type: 'boolean' }, options);
}

/** A number or a string (IntOrString), e.g. a port number or a container port name. */
export function intOrString(options: Common & { maxLength?: number } = {}): Schema<number | string> {
  const { description, validations, ...rest } = options;
  return make({ 'x-kubernetes-int-or-string': true, ...rest }, { description, validations });
}

export interface ArrayOptions extends Common {
  minItems?: number;
  maxItems?: number;
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: string[];
}

export function array<T>(items: Schema<T, boolean>, options: ArrayOptions = {}): Schema<T[]> {
  const json: JsonSchemaProps = { type: 'array', items: items.json };
  if (options.minItems !== undefined) json.minItems = options.minItems;
  if (options.maxItems !== undefined) json.maxItems = options.maxItems;
  if (options.listType) json['x-kubernetes-list-type'] = options.listType;
  if (options.listMapKeys) json['x-kubernetes-list-map-keys'] = options.listMapKeys;
  return make(json, options);
}

export interface MapOptions extends Common {
  minProperties?: number;
  maxProperties?: number;
}

export function map<T>(values: Schema<T, boolean>, options: MapOptions = {}): Schema<Record<string, T>> {
  const { description, validations, ...rest } = options;
  return make({ type: 'object', additionalProperties: values.json, ...rest }, { description, validations });
}

/** An object kept as is (x-kubernetes-preserve-unknown-fields), e.g. an autoscaling/v2 MetricSpec. */
export function freeform(options: Common = {}): Schema<Record<string, unknown>> {
  return make({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, options);
}

type Props = Record<string, Schema<unknown, boolean>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Present<P extends Props, R extends keyof P> = {
  [K in keyof P as K extends R ? K : P[K] extends Schema<unknown, true> ? K : never]: Infer<P[K]>;
};
type Optional<P extends Props, R extends keyof P> = {
  [K in keyof P as K extends R ? never : P[K] extends Schema<unknown, true> ? never : K]?: Infer<P[K]>;
};
export type ObjectOf<P extends Props, R extends keyof P = never> = Simplify<Present<P, R> & Optional<P, R>>;

export interface ObjectOptions<K extends string> extends Common {
  required?: readonly K[];
}

export function object<P extends Props, const R extends keyof P & string = never>(
  properties: P,
  options: ObjectOptions<R> = {},
): Schema<ObjectOf<P, R>> {
  const json: JsonSchemaProps = {
    type: 'object',
    properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, v.json])),
  };
  if (options.required?.length) json.required = [...options.required];
  return make(json, options);
}

/** A default may leave out fields that have defaults of their own (they are applied after it). */
type DefaultValue<T> = T extends readonly unknown[]
  ? T
  : T extends Record<string, unknown>
    ? { [K in keyof T]?: DefaultValue<T[K]> }
    : T;

/** The apiserver fills `value` when the field is absent (structural defaulting). */
export function withDefault<T>(schema: Schema<T, boolean>, value: DefaultValue<T>): Schema<T, true> {
  return { json: orderKeys({ ...schema.json, default: value }) } as Schema<T, true>;
}
