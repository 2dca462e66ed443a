"""Build step: generate zmesh/wire/*.py from the FlatBuffers schemas with flatc.

The generated code is never committed. `pip install --no-build-isolation ./python` (or
`python3 setup.py build`) runs `flatc --python` on ../schemas/*.fbs (override with
$ZMESH_SCHEMAS, the flatc binary with $FLATC) into the build directory, next to the
hand-written package. For working in the source tree without installing, run
`cd python && python3 setup.py gen_wire`: it writes python/zmesh/wire/ (ignored by git).
"""
import glob
import os
import shutil
import subprocess
import tempfile

from setuptools import Command, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def generate(dest_pkg_dir):
    schemas = os.environ.get("ZMESH_SCHEMAS") or os.path.join(HERE, "..", "schemas")
    fbs = sorted(glob.glob(os.path.join(schemas, "*.fbs")))
    if not fbs:
        raise SystemExit(f"zmesh: no schemas in {schemas} (set ZMESH_SCHEMAS)")
    flatc = os.environ.get("FLATC") or shutil.which("flatc")
    if not flatc:
        raise SystemExit("zmesh: flatc not found (Debian: apt install flatbuffers-compiler)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([flatc, "--python", "-o", tmp, *fbs])
        out = os.path.join(dest_pkg_dir, "wire")
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(os.path.join(tmp, "zmesh", "wire"), out)
    return out


class BuildPy(build_py):
    def run(self):
        super().run()
        generate(os.path.join(self.build_lib, "zmesh"))


class GenWire(Command):
    description = "generate zmesh/wire/ in the source tree (development without install)"
    user_options = []

    def initialize_options(self):
        pass

    def finalize_options(self):
        pass

    def run(self):
        print("generated", generate(os.path.join(HERE, "zmesh")))


setup(cmdclass={"build_py": BuildPy, "gen_wire": GenWire})
