"""Generates engram/v1/engram_pb2.py (+ .pyi) from engram-proto with the Maven build's protoc.

protoc is looked up in this order:
  1. $ENGRAM_PROTOC (a protoc binary);
  2. engram-proto/target/protoc-plugins/protoc-<version>-*.exe (left by the Maven build);
  3. ~/.m2/repository/com/google/protobuf/protoc/<version>/protoc-<version>-<os>-<arch>.exe;
  4. `mvn dependency:copy` of that artifact into build/protoc.
<version> is the root pom's protobuf.version, so the Java and Python messages come from one protoc.
The proto directory is $ENGRAM_PROTO_DIR or ../../engram-proto/src/main/proto from this file.

Usage: python engram_protoc.py OUT_DIR   (writes OUT_DIR/engram/v1/engram_pb2.py and .pyi)
"""

import glob
import os
import platform
import re
import shutil
import stat
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


class ProtocNotFound(RuntimeError):
    pass


def proto_dir():
    d = os.environ.get("ENGRAM_PROTO_DIR") or os.path.join(REPO, "engram-proto", "src", "main", "proto")
    if not os.path.isfile(os.path.join(d, "engram", "v1", "engram.proto")):
        raise ProtocNotFound(
            f"engram/v1/engram.proto not found under {d}; build from the Engram repository "
            "or set ENGRAM_PROTO_DIR"
        )
    return d


def protobuf_version():
    pom = os.path.join(REPO, "pom.xml")
    try:
        with open(pom, encoding="utf-8") as f:
            m = re.search(r"<protobuf\.version>([^<]+)</protobuf\.version>", f.read())
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return "4.36.2"


def classifier():
    system = {"Linux": "linux", "Darwin": "osx", "Windows": "windows"}.get(platform.system())
    machine = platform.machine().lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch_64", "arm64": "aarch_64"}.get(machine)
    if system is None or arch is None:
        raise ProtocNotFound(f"no protoc artifact for {platform.system()}/{platform.machine()}")
    return f"{system}-{arch}"


def _executable(path, scratch):
    if os.access(path, os.X_OK):
        return path
    os.makedirs(scratch, exist_ok=True)
    copy = os.path.join(scratch, os.path.basename(path))
    shutil.copyfile(path, copy)
    os.chmod(copy, os.stat(copy).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return copy


def find_protoc():
    explicit = os.environ.get("ENGRAM_PROTOC")
    if explicit:
        if not os.path.isfile(explicit):
            raise ProtocNotFound(f"ENGRAM_PROTOC={explicit} does not exist")
        return explicit
    version = protobuf_version()
    scratch = os.path.join(HERE, "build", "protoc")
    built = sorted(glob.glob(os.path.join(REPO, "engram-proto", "target", "protoc-plugins", f"protoc-{version}-*.exe")))
    if built:
        return _executable(built[0], scratch)
    name = f"protoc-{version}-{classifier()}.exe"
    m2 = os.path.join(os.path.expanduser("~"), ".m2", "repository", "com", "google", "protobuf", "protoc", version, name)
    if os.path.isfile(m2):
        return _executable(m2, scratch)
    mvn = shutil.which("mvn")
    if mvn:
        subprocess.run(
            [mvn, "-B", "-q", "dependency:copy",
             f"-Dartifact=com.google.protobuf:protoc:{version}:exe:{classifier()}",
             f"-DoutputDirectory={scratch}"],
            cwd=REPO, check=False)
        fetched = os.path.join(scratch, name)
        if os.path.isfile(fetched):
            return _executable(fetched, scratch)
    raise ProtocNotFound(
        f"protoc {version} not found: run the Maven build first (./engram build), "
        "or set ENGRAM_PROTOC to a protoc binary of that version"
    )


def well_known_include(protoc):
    """A directory holding google/protobuf/timestamp.proto: protoc's own include/, the Maven
    build's extracted protoc-dependencies, or one extracted from protobuf-java's jar."""
    candidates = [os.path.join(os.path.dirname(os.path.dirname(protoc)), "include")]
    candidates += glob.glob(os.path.join(REPO, "engram-proto", "target", "protoc-dependencies", "*"))
    for c in candidates:
        if os.path.isfile(os.path.join(c, "google", "protobuf", "timestamp.proto")):
            return c
    version = protobuf_version()
    jar = os.path.join(os.path.expanduser("~"), ".m2", "repository", "com", "google", "protobuf",
                       "protobuf-java", version, f"protobuf-java-{version}.jar")
    if os.path.isfile(jar):
        import zipfile

        out = os.path.join(HERE, "build", "protoc", "include")
        with zipfile.ZipFile(jar) as z:
            z.extract("google/protobuf/timestamp.proto", out)
        return out
    raise ProtocNotFound("google/protobuf/timestamp.proto not found: run the Maven build first (./engram build)")


def generate(out_dir):
    protoc = find_protoc()
    src = proto_dir()
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run(
        [protoc, f"-I{src}", f"-I{well_known_include(protoc)}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
         os.path.join(src, "engram", "v1", "engram.proto")],
        check=True)
    init = os.path.join(out_dir, "engram", "v1", "__init__.py")
    if not os.path.exists(init):
        with open(init, "w", encoding="utf-8") as f:
            f.write('"""Generated protobuf messages of engram.v1 (built from engram.proto)."""\n')


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "src"))
