import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILES, indexerDeploymentCrd, indexerDeploymentCrdYaml } from './crd.ts';
import type { JsonSchemaProps } from './schema.ts';

const root = resolve(import.meta.dirname, '../../../..');

describe('IndexerDeployment CRD', () => {
  it.each(CRD_FILES)(
    '%s matches the generator (run `pnpm --filter @kvindex/controller emit-crds`)',
    (file) => {
      expect(readFileSync(resolve(root, file), 'utf8')).toBe(indexerDeploymentCrdYaml());
    },
  );

  it('round-trips through YAML unchanged', () => {
    expect(parse(indexerDeploymentCrdYaml())).toEqual(indexerDeploymentCrd());
  });

  // The apiserver rejects non-structural schemas; these are the rules it checks that are easy to
  // break by hand: every node has a type (or int-or-string / preserve-unknown-fields), and
  // defaults sit only where a type exists.
  it('is structural', () => {
    const problems: string[] = [];
    const walk = (node: JsonSchemaProps, path: string) => {
      const typed =
        node.type !== undefined ||
        node['x-kubernetes-int-or-string'] === true ||
        node['x-kubernetes-preserve-unknown-fields'] === true;
      if (!typed) problems.push(`${path}: no type`);
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${key}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (node.additionalProperties) walk(node.additionalProperties, `${path}{}`);
    };
    const version = indexerDeploymentCrd().spec.versions[0]!;
    walk(version.schema.openAPIV3Schema, '');
    expect(problems).toEqual([]);
  });

  it('defaults the nested objects so their own defaults apply to an empty spec', () => {
    const spec = indexerDeploymentCrd().spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    expect(spec.properties!.events!.default).toEqual({ transport: 'zmq' });
    expect(spec.properties!.events!.properties!.zmq!.default).toEqual({});
    expect(spec.properties!.indexer!.default).toEqual({});
    expect(spec.properties!.indexer!.properties!.replicas!.default).toEqual({ min: 1, max: 4 });
    expect(spec.properties!.blockSize!.default).toBe(16);
  });
});
