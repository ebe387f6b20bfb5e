"""A throwaway virtualenv that sees this environment's packages (tiers, pytest, ibis...) but
installs its own: plugin packages are pip-installed there, so their entry points never leak
into the rest of the test run, and nothing is downloaded but the build backend."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path


class PluginVenv:
    def __init__(self, root: Path):
        self.root = root
        venv.create(root, with_pip=False, symlinks=os.name != "nt")
        self.python = root / ("Scripts" if os.name == "nt" else "bin") / "python"
        own = self.run_python("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        # Processed at start-up: the parent's site-packages (and its .pth files, which hold
        # the editable install of tiers) come after the venv's own.
        parent = sysconfig.get_paths()["purelib"]
        Path(own.strip(), "_parent_env.pth").write_text(
            f"import site; site.addsitedir({parent!r})\n", encoding="utf-8")

    def run_python(self, *args: str, cwd: Path | None = None, check: bool = True,
                   extra_env: dict[str, str] | None = None) -> str:
        env = {**os.environ, "PYTHONNOUSERSITE": "1", "PYTHONIOENCODING": "utf-8",
               **(extra_env or {})}
        env.pop("PYTHONPATH", None)
        env.pop("TIERS_STRICT_PLUGINS", None)
        proc = subprocess.run([str(self.python), *args], cwd=cwd, env=env, text=True,
                              capture_output=True, timeout=600)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc.stdout + proc.stderr if not check else proc.stdout

    def pip_install(self, path: Path) -> None:
        # --no-deps: tiers and the rest come from the parent environment
        self.run_python("-m", "pip", "install", "--no-deps", "--quiet",
                        "--disable-pip-version-check", str(path))

    def tiers(self, *args: str, cwd: Path | None = None, check: bool = True,
              extra_env: dict[str, str] | None = None) -> str:
        return self.run_python("-m", "tiers", *args, cwd=cwd, check=check, extra_env=extra_env)
