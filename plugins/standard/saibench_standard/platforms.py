"""Software and hardware configurations. Probes are cheap: no JAX import at describe time;
the run itself confirms the device with JAX and fails clearly if the probe was wrong."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil

from sail_types import Device, Fail, Runtime, hardware, software


def _installed(*distributions: str) -> list[str]:
    found = []
    for name in distributions:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


@software(name="jax-float32")
def jax_float32() -> Runtime:
    """JAX with XLA, single precision, on whichever of CPU, GPU and TPU are present."""
    try:
        version = importlib.metadata.version("jax")
    except importlib.metadata.PackageNotFoundError:
        raise Fail("jax is not installed; pip install jax") from None
    return Runtime(framework="jax", version=version, precision="float32", platforms=("cpu", "gpu", "tpu"))


@software(name="jax-bfloat16", only_with=("hardware:gpu", "hardware:tpu"))
def jax_bfloat16() -> Runtime:
    """JAX in mixed precision: bfloat16 forward and backward passes, float32 parameters and
    optimizer. Only on accelerators: CPUs emulate bfloat16 and gain nothing."""
    try:
        version = importlib.metadata.version("jax")
    except importlib.metadata.PackageNotFoundError:
        raise Fail("jax is not installed; pip install jax") from None
    return Runtime(framework="jax", version=version, precision="bfloat16", platforms=("gpu", "tpu"))


@hardware()
def cpu() -> Device:
    """The host CPU. No ``memory_bytes``: host memory is limited per run by
    ``saibench run --memory-limit``, and sizing models at plan time would run their code."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return Device("cpu", f"{platform.machine()} × {os.cpu_count()} cores, {memory / 2**30:.0f} GiB")


@hardware()
def gpu() -> Device:
    """An NVIDIA GPU through JAX's CUDA plugin."""
    plugins = _installed("jax-cuda12-plugin", "jax-cuda13-plugin")
    if not plugins:
        raise Fail("JAX has no CUDA backend installed; pip install 'jax[cuda12]'")
    if not (os.path.exists("/dev/nvidiactl") or shutil.which("nvidia-smi")):
        raise Fail(f"{plugins[0]} is installed but no NVIDIA device is visible")
    return Device("gpu", "NVIDIA GPU")


@hardware()
def tpu() -> Device:
    """A Google TPU through libtpu."""
    if not _installed("libtpu", "libtpu-nightly"):
        raise Fail("JAX has no TPU backend installed; pip install 'jax[tpu]'")
    if not (os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio")):
        raise Fail("libtpu is installed but no TPU device is visible")
    return Device("tpu", "Google TPU")
