"""Dynamic int8 quantization of an ONNX graph's weights, without touching the root logger."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantizer and optimizer warn through `logging.warning`, which configures
    the root logger when nothing has: every library's debug lines would then reach the user's
    terminal. A handler on the root logger for the duration keeps it unconfigured."""
    quiet = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(quiet)
    try:
        yield
    finally:
        root.removeHandler(quiet)


def quantize_int8(source: Path, target: Path) -> Path:
    """Write `target`, the int8-weight copy of `source` (activations stay float), atomically."""
    from onnx import TensorProto
    from onnxruntime.quantization import (  # type: ignore[import-untyped]
        QuantType,
        quantize_dynamic,
    )

    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    with quiet_root_logger():
        quantize_dynamic(
            str(source),
            str(tmp),
            weight_type=QuantType.QInt8,
            # fused operators (Attention, SkipLayerNormalization) are in a domain that shape
            # inference does not type: their outputs are float
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    os.replace(tmp, target)
    return target
