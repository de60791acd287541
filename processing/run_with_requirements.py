"""Run a processing script after installing what the image lacks.

    python3 run_with_requirements.py SCRIPT [ARGS...]

The sklearn processing image has no Great Expectations, which validate.py needs. This launcher
installs requirements.txt (beside this file) when one of its packages is missing, then runs
SCRIPT as __main__ with ARGS, as the SDK's generated runproc.sh would. Where every package is
already installed (the local runner's virtualenv) it installs nothing and costs nothing.
Standard library only; Python 3.9 syntax.
"""

import os
import re
import runpy
import subprocess
import sys

try:
    from importlib import metadata
except ImportError:  # Python < 3.8 images
    metadata = None

HERE = os.path.dirname(os.path.abspath(__file__))


def missing_requirements(path):
    """Requirement lines whose distribution is not installed (versions are pip's business)."""
    missing = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if not match:
                continue
            try:
                metadata.version(match.group(0))
            except Exception:  # PackageNotFoundError, or no metadata module at all
                missing.append(line)
    return missing


def main(argv):
    if not argv:
        sys.stderr.write("usage: run_with_requirements.py SCRIPT [ARGS...]\n")
        return 2
    requirements = os.path.join(HERE, "requirements.txt")
    if os.path.isfile(requirements) and (metadata is None or missing_requirements(requirements)):
        subprocess.check_call(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                requirements,
            ]
        )
    script = os.path.join(HERE, argv[0])
    sys.argv = [script] + argv[1:]
    sys.path.insert(0, HERE)
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
