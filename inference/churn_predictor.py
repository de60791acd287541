"""XGBoost's C prediction function called without the Python wrapper (docs/adr/0005).

Part of the inference code bundle; standard library, numpy and xgboost only.
"""

import json

import numpy as np


def direct_predict(booster):
    """Booster.inplace_predict without its Python wrapper, or None where that is not safe.

    A one-row inplace_predict costs about 220 us, half of it in the wrapper (type dispatch, a
    ctypes class built per call, JSON encoding), and it is the largest cost of a one-row request.
    This calls the same C function, XGBoosterPredictFromDense (XGBoost's C API, unchanged since
    1.4), with the configuration encoded once: about 110 us. It is used only on xgboost 1.4 to
    3.x, and only after it gave exactly inplace_predict's answers on probe rows."""
    import ctypes

    import xgboost
    from xgboost import core

    major, minor = (int(v) for v in xgboost.__version__.split(".")[:2])
    if not (1, 4) <= (major, minor) < (4, 0):
        return None
    config = json.dumps(
        {
            "type": 0,
            "training": False,
            "iteration_begin": 0,
            "iteration_end": 0,
            "missing": float("nan"),
            "strict_shape": False,
            "cache_id": 0,
        }
    ).encode()
    predict_from_dense = core._LIB.XGBoosterPredictFromDense

    def predict(matrix):
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        rows, columns = matrix.shape
        # Out-parameters per call: a serving container may call from several threads.
        shape, dims = ctypes.POINTER(core.c_bst_ulong)(), core.c_bst_ulong()
        result, no_proxy = ctypes.POINTER(ctypes.c_float)(), ctypes.c_void_p()
        interface = b'{"data": [%d, true], "shape": [%d, %d], "typestr": "<f4", "version": 3}' % (
            matrix.ctypes.data,
            rows,
            columns,
        )
        core._check_call(
            predict_from_dense(
                booster.handle,
                interface,
                config,
                no_proxy,
                ctypes.byref(shape),
                ctypes.byref(dims),
                ctypes.byref(result),
            )
        )
        if dims.value != 1 or shape[0] != rows:  # not one score per row: use the wrapper
            return booster.inplace_predict(matrix)
        # XGBoost reuses the buffer (per thread) on the next call: copy the scores out now.
        return np.ctypeslib.as_array(result, shape=(rows,)).copy()

    probe = np.random.default_rng(0).normal(size=(16, booster.num_features())).astype(np.float32)
    probe[0, 0] = np.nan
    try:
        if np.array_equal(predict(probe), booster.inplace_predict(probe)):
            return predict
    except Exception:
        pass
    return None
