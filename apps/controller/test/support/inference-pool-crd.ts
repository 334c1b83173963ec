// The Gateway API Inference Extension's InferencePool CRD (inference.networking.k8s.io/v1), cut to
// the fields kvindex reads plus the required endpointPickerRef, for tests that install it the way
// a cluster with the extension has it.

const portNumber = { type: 'integer', format: 'int32', minimum: 1, maximum: 65535 };

export const inferencePoolCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: 'inferencepools.inference.networking.k8s.io',
    // *.k8s.io groups need this approval annotation; the upstream CRD carries the same one.
    annotations: {
      'api-approved.kubernetes.io':
        'https://github.com/kubernetes-sigs/gateway-api-inference-extension/pull/1173',
    },
  },
  spec: {
    group: 'inference.networking.k8s.io',
    names: {
      kind: 'InferencePool',
      listKind: 'InferencePoolList',
      plural: 'inferencepools',
      singular: 'inferencepool',
      shortNames: ['infpool'],
    },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['selector', 'targetPorts', 'endpointPickerRef'],
                properties: {
                  selector: {
                    type: 'object',
                    required: ['matchLabels'],
                    properties: {
                      matchLabels: {
                        type: 'object',
                        maxProperties: 64,
                        additionalProperties: { type: 'string', maxLength: 63 },
                      },
                    },
                  },
                  targetPorts: {
                    type: 'array',
                    minItems: 1,
                    maxItems: 8,
                    'x-kubernetes-list-type': 'atomic',
                    items: { type: 'object', required: ['number'], properties: { number: portNumber } },
                  },
                  endpointPickerRef: {
                    type: 'object',
                    required: ['name'],
                    properties: {
                      group: { type: 'string', default: '' },
                      kind: { type: 'string', default: 'Service' },
                      name: { type: 'string', minLength: 1, maxLength: 253 },
                      portNumber,
                      failureMode: { type: 'string', enum: ['FailOpen', 'FailClose'], default: 'FailClose' },
                    },
                  },
                },
              },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};
