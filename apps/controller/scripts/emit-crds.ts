// Writes the IndexerDeployment CRD YAML to crds/ and the chart. Run with
// `node --conditions=source apps/controller/scripts/emit-crds.ts` (or `pnpm emit-crds` in the package).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CRD_FILES, indexerDeploymentCrdYaml } from '../src/api/crd.ts';

const root = resolve(import.meta.dirname, '../../..');
const yaml = indexerDeploymentCrdYaml();
for (const file of CRD_FILES) {
  const path = resolve(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, yaml);
  console.log(`wrote ${file}`);
}
