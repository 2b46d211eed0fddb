#!/usr/bin/env python3
"""Differential fuzzing: random kustomization trees, rendered by fjord and by
the reference kustomize; any difference in exit status or output is kept.

    fuzz.py --fjord PATH [--kustomize PATH] [--runs N] [--seed S] [--keep DIR]

PATH for --fjord may be the `fjord` binary or the `kbuild` example. A tree
that renders differently is copied to DIR/<seed>-<n>/ with both outputs, so
that it can be turned into a case under cases/ with record.sh.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

NAMES = ["web", "api", "db", "cache", "worker"]
IMAGES = ["nginx", "nginx:1.25", "registry.example:5000/team/api:2.0",
          "busybox@sha256:0123456789abcdef", "redis:7@sha256:feed"]
WORKLOADS = ["Deployment", "StatefulSet", "DaemonSet"]


def workload(r, kind, name):
    image = r.choice(IMAGES)
    cm = r.choice(["settings", "shared", "missing"])
    ports = "" if r.random() < 0.3 else f"""
        ports:
        - containerPort: {r.choice([80, 8080, 9090])}
          name: http"""
    env = "" if r.random() < 0.4 else f"""
        env:
        - name: MODE
          value: {r.choice(['fast', '"1"', 'yes', "'on'"])}
        - name: FROM_CM
          valueFrom:
            configMapKeyRef:
              name: {cm}
              key: mode"""
    return f"""apiVersion: apps/v1
kind: {kind}
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: {r.choice([1, 2, 3])}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      serviceAccountName: {name}-sa
      volumes:
      - name: config
        configMap:
          name: {cm}
      - name: creds
        secret:
          secretName: creds
      containers:
      - name: main
        image: {image}{ports}{env}
      - name: sidecar
        image: {r.choice(IMAGES)}
        args: ["--peer=$(PEER_{name.upper()})", "--port=$(PEER_PORT)", "--literal=$(NOT_A_VAR)"]
"""


def extras(r, name):
    docs = [f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - port: 80
    targetPort: http
""", f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}-sa
"""]
    if r.random() < 0.3:
        docs.append(f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: 1
  maxReplicas: 5
""")
    if r.random() < 0.3:
        docs.append(f"""apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {name}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
- kind: ServiceAccount
  name: {name}-sa
""")
    return docs


def smp_patch(r, kind, name):
    body = r.choice([
        "spec:\n  replicas: 7\n",
        "spec:\n  template:\n    spec:\n      containers:\n      - name: main\n        resources:\n          limits:\n            memory: 1Gi\n",
        "spec:\n  template:\n    spec:\n      containers:\n      - name: sidecar\n        $patch: delete\n",
        "spec:\n  template:\n    spec:\n      containers:\n      - name: extra\n        image: alpine\n",
        "LABELS",
        "spec:\n  template:\n    spec:\n      volumes:\n      - name: config\n        $patch: delete\n",
        "spec:\n  template:\n    spec:\n      containers:\n      - name: main\n        env:\n        - name: ADDED\n          value: x\n",
    ])
    if body == "LABELS":
        return f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  labels:\n    patched: \"true\"\n"
    return f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{body}"


def json_patch(r):
    return r.choice([
        "- op: add\n  path: /metadata/annotations\n  value:\n    note: json\n",
        "- op: replace\n  path: /spec/replicas\n  value: 4\n",
        "- op: add\n  path: /spec/template/spec/containers/0/args\n  value: [\"--v=2\"]\n",
        "- op: remove\n  path: /spec/template/spec/containers/1\n",
        "- op: add\n  path: /metadata/labels/extra\n  value: \"1\"\n",
    ])


def layer(r, d, below, n, state):
    """Writes an overlay in d over the directories in below; state tells
    which apps and generated objects the layers below hold."""
    lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization"]
    lines.append("resources:")
    lines += [f"- {b}" for b in below]
    if r.random() < 0.4:
        lines.append(f"namePrefix: {r.choice(['p-', 'team-', 'x'])}")
    if r.random() < 0.4:
        lines.append(f"nameSuffix: {r.choice(['-s', '-v2'])}")
    if r.random() < 0.4:
        lines.append(f"namespace: {r.choice(['prod', 'staging'])}")
    if r.random() < 0.3:
        lines.append(f"commonLabels:\n  layer: l{n}")
    if r.random() < 0.3:
        lines.append(f"labels:\n- pairs:\n    tier: t{n}\n  includeSelectors: {r.choice(['true', 'false'])}\n  includeTemplates: {r.choice(['true', 'false'])}")
    if r.random() < 0.3:
        lines.append(f"commonAnnotations:\n  layer: \"{n}\"")
    if r.random() < 0.4:
        img = r.choice(["nginx", "busybox", "redis", "registry.example:5000/team/api"])
        opt = r.choice(["newTag: \"1.0\"", "newName: mirror.example/x", "digest: sha256:abc123", "newName: m.example/y\n  newTag: v9"])
        lines.append(f"images:\n- name: {img}\n  {opt}")
    if r.random() < 0.3:
        scalable = [a for a, k in state["kinds"].items() if k != "DaemonSet"] or NAMES
        name = r.choice(scalable)
        lines.append(f"replicas:\n- name: {name}\n  count: {r.choice([0, 5])}")
    patches = []
    for _ in range(r.choice([0, 0, 1, 2])):
        kind = r.choice(WORKLOADS)
        if r.random() < 0.5:
            body = smp_patch(r, kind, "ignored")
            target = f"  target:\n    kind: {kind}\n"
            if r.random() < 0.5:
                target += f"    name: {r.choice(['web', 'a.*', '.*'])}\n"
        else:
            body = json_patch(r)
            target = f"  target:\n    kind: {kind}\n"
        indented = "".join("    " + ln + "\n" for ln in body.splitlines())
        patches.append(f"- patch: |-\n{indented}{target}")
    if r.random() < 0.2 and state["kinds"]:
        # One entry, several documents, each naming its object.
        docs = []
        for app in r.sample(list(state["kinds"]), min(2, len(state["kinds"]))):
            docs.append(smp_patch(r, state["kinds"][app], app).rstrip("\n"))
        body = "\n---\n".join(docs)
        indented = "".join("    " + ln + "\n" for ln in body.splitlines())
        patches.append(f"- patch: |-\n{indented}")
    if patches:
        lines.append("patches:\n" + "".join(patches).rstrip("\n"))
    if r.random() < 0.5:
        if state["settings"]:
            behavior = "\n  behavior: " + r.choice(["merge", "merge", "replace"])
        else:
            behavior = r.choice(["", "\n  behavior: create"])
        state["settings"] = True
        lines.append(f"configMapGenerator:\n- name: settings{behavior}\n  literals:\n  - mode=m{n}\n  - level={r.choice(['1', 'debug', 'true'])}")
    if r.random() < 0.3:
        behavior = "\n  behavior: merge" if state["creds"] else ""
        state["creds"] = True
        lines.append(f"secretGenerator:\n- name: creds{behavior}\n  literals:\n  - password=s{n}")
    if r.random() < 0.2:
        with open(os.path.join(d, "app.env"), "w") as f:
            f.write(r.choice(["A=1\nB=two words\n", "# comment\nC='quoted'\n\nD=\"dq\"\n", "E\n", "F=x=y\n"]))
        with open(os.path.join(d, "conf.txt"), "w") as f:
            f.write(r.choice(["line one\nline two\n", "no newline", "  indented\n\ttab\n"]))
        lines.append("configMapGenerator:" if not any(ln.startswith("configMapGenerator:") for ln in lines) else "")
        lines[-1] = lines[-1] + f"\n- name: files{n}\n  envs: [app.env]\n  files: [conf.txt, renamed.txt=conf.txt]\n  options:\n    disableNameSuffixHash: {r.choice(['true', 'false'])}\n    labels:\n      gen: \"{n}\""
    if r.random() < 0.2:
        lines.append(f"generatorOptions:\n  labels:\n    opt: \"{n}\"\n  annotations:\n    opt: o{n}\n  immutable: {r.choice(['true', 'false'])}")
    if n == 0 or r.random() < 0.2:
        app = r.choice(state["apps"])
        vs = [f"- name: PEER_{a.upper()}\n  objref:\n    kind: Service\n    name: {a}\n    apiVersion: v1"
              for a in state["apps"] if a not in state["vars"] and (n == 0 or a == app)]
        if "PEER_PORT" not in state["vars"]:
            vs.append(f"- name: PEER_PORT\n  objref:\n    kind: Service\n    name: {app}\n    apiVersion: v1\n  fieldref:\n    fieldpath: spec.ports[0].port")
            state["vars"].add("PEER_PORT")
        state["vars"].update(a for a in state["apps"] if n == 0 or a == app)
        if vs and r.random() < 0.7:
            lines.append("vars:\n" + "\n".join(vs))
    if r.random() < 0.25:
        src = r.choice([f"kind: Service\n    name: {r.choice(state['apps'])}\n    fieldPath: metadata.name", "kind: ConfigMap\n    name: settings\n    fieldPath: data.mode", "kind: Deployment\n    fieldPath: spec.template.spec.containers.0.image"])
        tgt = r.choice(["metadata.annotations.copied", "spec.template.spec.containers.[name=main].env.[name=MODE].value", "spec.template.metadata.labels.copied"])
        opts = r.choice(["\n    options:\n      create: true", "\n    options:\n      create: true", "", "\n    options:\n      delimiter: ':'\n      index: 1"])
        lines.append(f"replacements:\n- source:\n    {src}\n  targets:\n  - select:\n      kind: {r.choice(WORKLOADS)}\n    fieldPaths:\n    - {tgt}{opts}")
    if r.random() < 0.2:
        comp = os.path.join(d, "comp")
        os.makedirs(comp)
        with open(os.path.join(comp, "kustomization.yaml"), "w") as f:
            f.write("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                    f"commonAnnotations:\n  component: c{n}\n"
                    "patches:\n- target:\n    kind: Service\n  patch: |-\n    - op: add\n      path: /spec/type\n      value: NodePort\n")
        lines.append("components:\n- comp")
    # managedByLabel is left out: a kustomize built from source labels
    # objects kustomize-(devel), a release (and fjord) kustomize-v5.5.0.
    if r.random() < 0.25:
        lines.append("buildMetadata: [" + ", ".join(r.sample(
            ["originAnnotations", "transformerAnnotations"], r.randint(1, 2))) + "]")
    with open(os.path.join(d, "kustomization.yaml"), "w") as f:
        f.write("\n".join(ln for ln in lines if ln) + "\n")


def tree(r, root):
    base = os.path.join(root, "base")
    os.makedirs(base)
    res = []
    apps = r.sample(NAMES, r.randint(1, 3))
    state = {"apps": apps, "kinds": {}, "settings": False, "creds": False, "vars": set()}
    for name in apps:
        fname = f"{name}.yaml"
        kind = r.choice(WORKLOADS)
        state["kinds"][name] = kind
        docs = [workload(r, kind, name)] + extras(r, name)
        with open(os.path.join(base, fname), "w") as f:
            f.write("---\n".join(docs))
        res.append(fname)
    layer(r, base, res, 0, state)
    below = "base"
    for n in range(1, r.randint(1, 3) + 1):
        d = os.path.join(root, f"l{n}")
        os.makedirs(d)
        layer(r, d, [f"../{below}"], n, state)
        below = f"l{n}"
    return os.path.join(root, below)


def render(cmd, top):
    p = subprocess.run(cmd + [top], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fjord", required=True)
    ap.add_argument("--kustomize", default=os.path.expanduser("~/.cache/fjord/kustomize-v5.5.0/kustomize"))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", default="differences")
    a = ap.parse_args()
    fjord = [a.fjord] if a.fjord.endswith("kbuild") else [a.fjord, "build"]
    r = random.Random(a.seed)
    differ = failed = 0
    for n in range(a.runs):
        with tempfile.TemporaryDirectory() as root:
            top = tree(r, root)
            kr, ko, ke = render([a.kustomize, "build"], top)
            fr, fo, fe = render(fjord, top)
            same = (kr == 0) == (fr == 0) and (kr != 0 or ko == fo)
            failed += kr != 0
            if not same:
                differ += 1
                keep = os.path.join(a.keep, f"{a.seed}-{n}")
                shutil.copytree(root, keep)
                for name, text in [("kustomize.out", ko + ke), ("fjord.out", fo + fe)]:
                    with open(os.path.join(keep, name), "w") as f:
                        f.write(text)
                print(f"differ: {keep} (kustomize rc={kr}, fjord rc={fr}, top {os.path.relpath(top, root)})")
    print(f"{a.runs - differ} same ({failed} of them errors in both), {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
