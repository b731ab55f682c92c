"""Builds the package, generating the protobuf message classes from the one proto first.

The messages (engram/v1/engram_pb2.py and .pyi) are generated at build time with the protoc that
the Maven build downloads; they are never committed. See engram_protoc.py for where protoc is found.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engram_protoc  # noqa: E402


class BuildPyWithProto(build_py):
    def run(self):
        super().run()
        engram_protoc.generate(os.path.join(self.build_lib))


setup(cmdclass={"build_py": BuildPyWithProto})
