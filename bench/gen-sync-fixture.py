#!/usr/bin/env python3
"""Writes the sync benchmark's input: N ConfigMaps, N/2 Deployments and N/2
Services (1,000 objects for N=500), one file per object, no namespace set."""
import os
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
os.makedirs(out, exist_ok=True)
for i in range(n):
    with open(os.path.join(out, f"cm-{i:04}.yaml"), "w") as f:
        f.write(f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{i:04}
  labels: {{app: bench, index: "{i}"}}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
  INDEX: "{i}"
""")
for i in range(n // 2):
    with open(os.path.join(out, f"app-{i:04}.yaml"), "w") as f:
        f.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i:04}
  labels: {{app: app-{i:04}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: app-{i:04}}}
  template:
    metadata:
      labels: {{app: app-{i:04}}}
    spec:
      containers:
      - name: app
        image: registry.example/app:1.{i}
        ports: [{{containerPort: 8080, name: http}}]
        envFrom: [{{configMapRef: {{name: config-{i:04}}}}}]
        resources:
          requests: {{cpu: 10m, memory: 32Mi}}
          limits: {{memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i:04}
spec:
  selector: {{app: app-{i:04}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
""")
