"""Build of the C extension only; everything else is in pyproject.toml."""

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

C_HEADERS = [
    "src_c/fd_box.h",
    "src_c/fd_compiler.h",
    "src_c/fd_drivers.h",
    "src_c/fd_dropout.h",
    "src_c/fd_kernels.h",
    "src_c/fd_kernels_impl.h",
    "src_c/fd_kernels_vec.h",
    "src_c/fd_normal_impl.h",
    "src_c/fd_philox.h",
    "src_c/fd_threads.h",
]
C_SOURCES = [
    "src_c/fd_dispatch.c",
    "src_c/fd_dropout.c",
    "src_c/fd_kernels_avx2.c",
    "src_c/fd_kernels_avx512.c",
    "src_c/fd_kernels_neon.c",
    "src_c/fd_kernels_scalar.c",
    "src_c/fd_mask.c",
    "src_c/fd_normal.c",
    "src_c/fd_threads.c",
]

# Baseline flags only: ISA-specific code is chosen at run time (src_c/fd_dispatch.c).
COMPILER_FLAGS = {
    "msvc": ["/O2", "/W4"],
    "unix": [
        "-O3",
        "-std=c11",
        "-ffp-contract=off",
        "-Wall",
        "-Wextra",
        "-fno-math-errno",
        "-pthread",
    ],
}
LINKER_FLAGS = {"msvc": [], "unix": ["-pthread"]}


class BuildExt(build_ext):
    def build_extensions(self):
        kind = "msvc" if self.compiler.compiler_type == "msvc" else "unix"
        for extension in self.extensions:
            extension.extra_compile_args = COMPILER_FLAGS[kind]
            extension.extra_link_args = LINKER_FLAGS[kind]
        super().build_extensions()


extension = Extension(
    "fastdrop._core",
    sources=["fastdrop/_core.pyx", *C_SOURCES],
    depends=C_HEADERS,  # rebuild on header changes; also puts them in the sdist
    include_dirs=["src_c", numpy.get_include()],
    define_macros=[
        ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
        # Built against NumPy 2, the module must still load with the oldest NumPy it requires.
        ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION"),
    ],
)

setup(
    ext_modules=cythonize([extension], compiler_directives={"language_level": "3"}),
    cmdclass={"build_ext": BuildExt},
)
