import type { ControlPlane } from './control-plane.ts';

/** Creates a CustomResourceDefinition (raw JSON: typed clients drop x-kubernetes-* keys) and waits until it serves. */
export async function installCrd(plane: ControlPlane, crd: { metadata: { name: string } }): Promise<void> {
  const created = await plane.request('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    method: 'POST',
    body: crd,
  });
  if (created.status !== 201)
    throw new Error(`creating CRD ${crd.metadata.name}: ${created.status} ${created.body}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const read = await plane.request(
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
    );
    const conditions = (
      JSON.parse(read.body) as { status?: { conditions?: { type: string; status: string }[] } }
    ).status?.conditions;
    if (conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not Established: ${read.body}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
