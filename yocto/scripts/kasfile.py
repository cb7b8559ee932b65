"""A kas file with its header includes merged the way kas merges them: depth first, later keys
win, includes relative to the repository. Shared by parse-check.sh (which writes the bitbake
configuration from it) and tests/yocto/check.sh (which validates it against kas's schema)."""
from pathlib import Path

import yaml


def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return over


def load(path, root, check=lambda own: None, seen=()):
    """The merged configuration of `path`; `check` sees each file's own content first."""
    path = Path(path)
    if path in seen:
        raise ValueError(f"include loop at {path}")
    own = yaml.safe_load(path.read_text())
    check(own)
    merged = {}
    for inc in own.get("header", {}).get("includes", []):
        if not isinstance(inc, str):
            raise ValueError(f"{path}: includes from other repos are not resolved here")
        merged = merge(merged, load(Path(root) / inc, root, check, seen + (path,)))
    return merge(merged, own)
