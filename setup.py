"""Ships `letitwag_bench_clip_benchmark.pth` into site-packages (all metadata lives in pyproject.toml).

A .pth file must sit at the top of site-packages, which package data cannot reach: build_py copies it
there, into the regular wheel and, for editable installs, into the editable wheel. Either way it is
listed in the installed RECORD, so `pip uninstall` removes it.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "letitwag_bench_clip_benchmark.pth"


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        # editable_wheel installs nothing from build_lib; it zips `install_lib` (the unpacked wheel)
        target = self.get_finalized_command("install").install_lib if self.editable_mode else self.build_lib
        self.copy_file(str(Path("src", PTH)), str(Path(target, PTH)), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        # editable: the .pth went straight into the wheel; listing it here would make strict mode link it
        return outputs if self.editable_mode else [*outputs, str(Path(self.build_lib, PTH))]


setup(cmdclass={"build_py": BuildPyWithPth})
