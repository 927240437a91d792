"""spark-submit commands: the installed Spark's launcher, the compiled options, and one run.

The options are the compiler's (uis_compiler.compilers.spark.submit_args: master, deploy mode,
catalog, jars, the spec's spark_config and memory), built at execution time from the worker's
settings, so a plan stored months ago runs on today's cluster. The runner's own code reaches
the executors as a zip (`--py-files`), so a cluster runs the same job as this worker.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import runner
import uis_compiler
from runner.ingest import protocol
from runner.ingest.inputs import RunInputs
from uis_compiler.compilers.options import CompileOptions
from uis_compiler.compilers.spark import submit_args
from uis_compiler.plan import SparkPlan

#: The packages a job imports on executors (their dependencies come with the Spark image).
_SHIPPED = (runner, uis_compiler)


def spark_submit() -> Path:
    """The installed Spark's spark-submit (the pyspark wheel carries it)."""
    import pyspark  # here: importing Spark takes a while, which most commands need not pay

    return Path(pyspark.__file__).parent / "bin" / "spark-submit"


def code_archive(folder: Path) -> Path:
    """A zip of the job's Python packages in ``folder``, named by its content (built once)."""
    roots = [Path(str(package.__file__)).parent for package in _SHIPPED]
    files = sorted((path, root.parent) for root in roots for path in root.rglob("*.py"))
    digest = hashlib.sha256()
    for path, _ in files:
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    archive = folder / f"headwater-job-{digest.hexdigest()[:16]}.zip"
    if not archive.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out:
            for path, root in files:
                out.write(path, path.relative_to(root))
        partial.replace(archive)
    return archive


def submit_command(
    plan: SparkPlan,
    options: CompileOptions,
    plan_file: Path,
    inputs: RunInputs,
    *,
    code: Path | None = None,
    extra: Mapping[str, str] | None = None,
    fence_dir: Path | None = None,
    events: bool = True,
) -> list[str]:
    """The whole command that runs ``plan`` once for ``inputs`` (reporting events)."""
    args = submit_args(plan, options)
    # The compiled list ends `APPLICATION --plan PATH`; what comes before are its options.
    options_part, application = args[:-3], args[-3]
    for key, value in sorted((extra or {}).items()):
        options_part += ["--conf", f"{key}={value}"]
    if code is not None:
        options_part += ["--py-files", str(code)]
    return [
        str(spark_submit()),
        *options_part,
        application,
        *protocol.driver_arguments(
            str(plan_file),
            inputs,
            events=events,
            fence_dir=str(fence_dir) if fence_dir else None,
        ),
    ]


def driver_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The driver's environment: this interpreter (and its packages) for driver and workers."""
    return {**environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
