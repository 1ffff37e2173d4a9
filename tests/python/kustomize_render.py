"""Renders the kustomizations under k8s/ without kustomize (not packaged for Debian; no Go
toolchain here), so the objects a cluster would receive can be validated offline.

It implements exactly the subset the project's kustomizations use and refuses anything else,
so a kustomization cannot use a feature whose result the tests would not see:
  resources (files and directories with a kustomization), namespace, patches (RFC 6902 JSON
  patches, inline or from a file, with a group/version/kind/name target) and
  configMapGenerator with files and generatorOptions.disableNameSuffixHash: true.

usage: kustomize_render.py DIR OUT_DIR
Writes one object per file into OUT_DIR (NNN-kind-name.yaml, in kustomize's input order) and
prints the file names. Exits 1 with a message naming the kustomization on any error.
"""

import copy
import os
import sys

import jsonpatch
import yaml

ALLOWED = {"apiVersion", "kind", "resources", "namespace", "patches", "configMapGenerator",
           "generatorOptions"}
# Kinds kustomize's namespace transformer leaves alone.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}


class RenderError(Exception):
    pass


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def render(directory):
    kpath = os.path.join(directory, "kustomization.yaml")
    if not os.path.isfile(kpath):
        raise RenderError(f"{directory}: no kustomization.yaml")
    docs = load_yaml_docs(kpath)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise RenderError(f"{kpath}: expected one mapping")
    k = docs[0]
    unknown = set(k) - ALLOWED
    if unknown:
        raise RenderError(f"{kpath}: fields this renderer does not implement: {sorted(unknown)}")
    if k.get("kind") != "Kustomization":
        raise RenderError(f"{kpath}: kind is {k.get('kind')!r}, not Kustomization")

    objects = []
    for res in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, res))
        if os.path.isdir(path):
            objects.extend(render(path))
        elif os.path.isfile(path):
            objects.extend(load_yaml_docs(path))
        else:
            raise RenderError(f"{kpath}: resource {res} does not exist")

    gen_opts = k.get("generatorOptions", {})
    for gen in k.get("configMapGenerator", []):
        if set(gen) - {"name", "files"}:
            raise RenderError(f"{kpath}: configMapGenerator fields {sorted(set(gen) - {'name', 'files'})}")
        if gen_opts != {"disableNameSuffixHash": True}:
            raise RenderError(f"{kpath}: configMapGenerator needs generatorOptions.disableNameSuffixHash: true"
                              " (name hashes and their references are not implemented)")
        data = {}
        for f in gen["files"]:
            with open(os.path.join(directory, f), encoding="utf-8") as fh:
                data[os.path.basename(f)] = fh.read()
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": gen["name"]}, "data": data})

    for p in k.get("patches", []):
        target = p.get("target") or {}
        if set(p) - {"target", "path", "patch"} or ("path" in p) == ("patch" in p):
            raise RenderError(f"{kpath}: a patch needs a target and one of path or patch")
        if set(target) - {"group", "version", "kind", "name"}:
            raise RenderError(f"{kpath}: patch target fields {sorted(target)}")
        if "path" in p:
            with open(os.path.join(directory, p["path"]), encoding="utf-8") as fh:
                ops = yaml.safe_load(fh)
        else:
            ops = yaml.safe_load(p["patch"])
        if not isinstance(ops, list):
            raise RenderError(f"{kpath}: only RFC 6902 JSON patches (a list of operations) are implemented")
        hits = 0
        for i, obj in enumerate(objects):
            if matches(obj, target):
                try:
                    objects[i] = jsonpatch.apply_patch(obj, ops)
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                    raise RenderError(f"{kpath}: patch on {describe(obj)}: {e}") from e
                hits += 1
        if hits == 0:
            raise RenderError(f"{kpath}: patch target {target} matches no object")

    if "namespace" in k:
        for obj in objects:
            if obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = k["namespace"]

    seen = set()
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"), obj["metadata"].get("namespace"),
               obj["metadata"].get("name"))
        if key in seen:
            raise RenderError(f"{kpath}: {describe(obj)} appears twice")
        seen.add(key)
    return [copy.deepcopy(o) for o in objects]


def matches(obj, target):
    api = obj.get("apiVersion", "")
    group, _, version = api.rpartition("/")
    return all([
        target.get("kind") in (None, obj.get("kind")),
        target.get("name") in (None, obj.get("metadata", {}).get("name")),
        target.get("group") in (None, group),
        target.get("version") in (None, version),
    ])


def describe(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    directory, out = argv[1], argv[2]
    try:
        objects = render(directory)
    except (RenderError, OSError, yaml.YAMLError) as e:
        print(f"kustomize_render: {e}", file=sys.stderr)
        return 1
    os.makedirs(out, exist_ok=True)
    for i, obj in enumerate(objects):
        name = f"{i:03d}-{obj.get('kind', 'x').lower()}-{obj['metadata'].get('name', 'x')}.yaml"
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            yaml.safe_dump(obj, f, sort_keys=False)
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
