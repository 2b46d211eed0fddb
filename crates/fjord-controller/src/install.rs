//! Everything fjord needs in a cluster, as manifests: the Application and
//! SealedSecret CRDs, the controller's namespace, its RBAC, its Deployment
//! and the Services in front of it.

/// The Argo CD Application CRD, so existing manifests apply unchanged. The
/// schema preserves unknown fields: fjord keeps what it does not act on.
pub const APPLICATION_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: applications.argoproj.io
  labels:
    app.kubernetes.io/part-of: fjord
spec:
  group: argoproj.io
  scope: Namespaced
  names:
    kind: Application
    listKind: ApplicationList
    plural: applications
    singular: application
    shortNames: [app, apps]
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - {name: Sync Status, type: string, jsonPath: .status.sync.status}
    - {name: Health Status, type: string, jsonPath: .status.health.status}
    - {name: Revision, type: string, jsonPath: .status.sync.revision, priority: 10}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        required: [metadata, spec]
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
          operation:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

/// The SealedSecret CRD, the same resource as Bitnami's (group, names,
/// status subresource), so either controller can serve it.
pub const SEALED_SECRET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sealedsecrets.bitnami.com
  labels:
    app.kubernetes.io/part-of: fjord
spec:
  group: bitnami.com
  scope: Namespaced
  names:
    kind: SealedSecret
    listKind: SealedSecretList
    plural: sealedsecrets
    singular: sealedsecret
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - {name: Status, type: string, jsonPath: ".status.conditions[0].message"}
    - {name: Synced, type: string, jsonPath: ".status.conditions[0].status"}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

/// The manifests `fjord install` prints, for a namespace and an image;
/// without the Deployment when the controller runs outside the cluster.
pub fn manifests(namespace: &str, image: &str, with_deployment: bool) -> String {
    let rest = format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: fjord-controller
  namespace: {namespace}
---
# fjord applies whatever Git declares, so it needs to manage every kind.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: fjord-controller
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
- nonResourceURLs: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: fjord-controller
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: fjord-controller
subjects:
- kind: ServiceAccount
  name: fjord-controller
  namespace: {namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fjord-controller
  namespace: {namespace}
  labels:
    app.kubernetes.io/name: fjord-controller
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: fjord-controller
  template:
    metadata:
      labels:
        app.kubernetes.io/name: fjord-controller
    spec:
      serviceAccountName: fjord-controller
      containers:
      - name: controller
        image: {image}
        args: [controller, --namespace, {namespace}, --leader-elect, --repo-cache, /var/cache/fjord, --listen, "0.0.0.0:8080"]
        ports:
        - {{name: webhook, containerPort: 8080}}
        env:
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{memory: 1Gi}}
        volumeMounts:
        - {{name: repo-cache, mountPath: /var/cache/fjord}}
      volumes:
      - {{name: repo-cache, emptyDir: {{}}}}
---
apiVersion: v1
kind: Service
metadata:
  name: fjord-webhook
  namespace: {namespace}
spec:
  selector:
    app.kubernetes.io/name: fjord-controller
  ports:
  - {{name: webhook, port: 80, targetPort: webhook}}
---
# kubeseal reaches the certificate and /v1/rotate through the API server's
# service proxy: `kubeseal --controller-namespace {namespace} --controller-name sealed-secrets-controller`.
apiVersion: v1
kind: Service
metadata:
  name: sealed-secrets-controller
  namespace: {namespace}
spec:
  selector:
    app.kubernetes.io/name: fjord-controller
  ports:
  - {{name: http, port: 8080, targetPort: webhook}}
"#
    );
    let rest = if with_deployment {
        rest
    } else {
        rest.split("\n---\n").filter(|doc| !doc.contains("kind: Deployment") && !doc.contains("kind: Service\n")).collect::<Vec<_>>().join("\n---\n")
    };
    format!("{APPLICATION_CRD}---\n{SEALED_SECRET_CRD}---\n{rest}")
}
