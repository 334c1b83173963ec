import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// The certificates a test control plane needs, made with the openssl CLI (Node's crypto parses
// X.509 but cannot issue it): one CA that signs the apiserver's serving cert and the admin client
// cert, plus the service-account signing key pair. envtest does the same with Go's crypto.

export interface ControlPlanePki {
  caCertFile: string;
  caKeyFile: string;
  servingCertFile: string;
  servingKeyFile: string;
  adminCertFile: string;
  adminKeyFile: string;
  serviceAccountKeyFile: string;
  serviceAccountPubFile: string;
  /** PEM text, for kubeconfigs. */
  caPem: string;
  adminCertPem: string;
  adminKeyPem: string;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function issue(dir: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  const signer = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2'];
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    ...signer,
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  ]);
}

export function createControlPlanePki(dir: string): ControlPlanePki {
  openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=kvindex-test-ca',
  ]);
  issue(
    dir,
    'serving',
    '/CN=kube-apiserver',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n',
  );
  // O=system:masters is bound to cluster-admin by the bootstrap RBAC policy.
  issue(
    dir,
    'admin',
    '/O=system:masters/CN=kvindex-test-admin',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key']);
  openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  const file = (name: string) => join(dir, name);
  return {
    caCertFile: file('ca.crt'),
    caKeyFile: file('ca.key'),
    servingCertFile: file('serving.crt'),
    servingKeyFile: file('serving.key'),
    adminCertFile: file('admin.crt'),
    adminKeyFile: file('admin.key'),
    serviceAccountKeyFile: file('sa.key'),
    serviceAccountPubFile: file('sa.pub'),
    caPem: readFileSync(file('ca.crt'), 'utf8'),
    adminCertPem: readFileSync(file('admin.crt'), 'utf8'),
    adminKeyPem: readFileSync(file('admin.key'), 'utf8'),
  };
}
