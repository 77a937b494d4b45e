"""Print one SHA-256 over a source directory's files (paths and contents), so the role
reinstalls Fleetwatch when the source changed. Build output and caches are left out: pip's
build writes them into the directory itself."""

import hashlib
import os
import sys

SKIP_DIRS = {".git", ".venv", ".services", "var", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache"}

root = sys.argv[1]
digest = hashlib.sha256()
for directory, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
    for name in sorted(files):
        path = os.path.join(directory, name)
        if name.endswith(".pyc") or not os.path.isfile(path):
            continue
        digest.update(os.path.relpath(path, root).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
print(digest.hexdigest())
