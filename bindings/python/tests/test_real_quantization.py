"""Real quantization, dequantization and batch-norm folding through swiftcompress._core (_real.c),
checked against torch computed in the same run: NNI 3.0's quantization formula
q = clamp(round(x / scale + zp), qmin, qmax) with torch.round (half to even), the packed 4-bit layout
built with torch, dequantization (q - zp) * scale, and folding against NNI's operation order,
torch.nn.utils.fusion and the unfused eval forward."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

import swiftcompress
from swiftcompress import _core

DTYPES = {torch.float32: _core.SC_DTYPE_FLOAT32, torch.float64: _core.SC_DTYPE_FLOAT64}


def spec(t: torch.Tensor):
    return (t.data_ptr(), DTYPES[t.dtype], tuple(t.shape), tuple(t.stride()))


def torch_quantize(x, scale, zp, qmin, qmax):
    """NNI 3.0's ClampRound integers: round_half_even(clamp(x / scale + zp, qmin, qmax))."""
    return torch.round(torch.clamp(x / scale + zp, qmin, qmax)).to(torch.int64)


def torch_pack4(q: torch.Tensor) -> torch.Tensor:
    """Two 4-bit values per byte: value 2k in the low nibble of byte k, 2k + 1 in the high one."""
    flat = q.flatten() & 0xF
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    return (flat[0::2] | (flat[1::2] << 4)).to(torch.uint8)


def quantize(x, scale, zp, bits, signed, storage):
    out = torch.full((_core.qstorage_bytes(storage, x.numel()) + 3,), 0xAB, dtype=torch.uint8)
    nans = _core.quantize(spec(x), spec(scale), spec(zp), bits, signed, out.data_ptr(), out.numel() - 3, storage)
    assert out[-3:].tolist() == [0xAB] * 3  # bytes after the needed ones are not touched
    return out[:-3], nans


def test_qstorage_bytes():
    assert _core.qstorage_bytes(_core.SC_QSTORAGE_INT4, 35) == 18
    assert _core.qstorage_bytes(_core.SC_QSTORAGE_UINT16, 35) == 70
    assert _core.qstorage_bytes(_core.SC_QSTORAGE_INT8, 0) == 0
    with pytest.raises(swiftcompress.InvalidArgumentError, match="storage is 9"):
        _core.qstorage_bytes(9, 3)
    with pytest.raises(ValueError, match="count"):
        _core.qstorage_bytes(_core.SC_QSTORAGE_INT8, -1)


def test_int8_per_channel_symmetric_matches_torch():
    torch.manual_seed(0)
    x = torch.randn(6, 35) * 3
    x[2, 5] = float("nan")
    scale = (x.nan_to_num().abs().amax(dim=1, keepdim=True) / 150).contiguous()  # the largest clamp at 127
    zp = torch.zeros_like(scale)
    q, nans = quantize(x, scale, zp, 8, True, _core.SC_QSTORAGE_INT8)
    want = torch_quantize(x.nan_to_num(0.0), scale, zp, -127, 127)  # NaN is stored as the zero point
    assert nans == 1
    assert torch.equal(q.view(torch.int8).to(torch.int64).view(6, 35), want)
    assert int((want.abs() == 127).sum()) > 0
    back = torch.empty_like(x)
    _core.dequantize(q.data_ptr(), q.numel(), _core.SC_QSTORAGE_INT8, spec(scale), spec(zp), 8, True, spec(back))
    assert torch.equal(back, (want.to(torch.float32) - zp) * scale)


def test_uint8_affine_per_tensor_strided_input_matches_torch():
    torch.manual_seed(1)
    base = torch.randn(40, 9) * 2 + 0.5
    x = base.t()  # [9, 40], strides (1, 9): the values go in logical order
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = torch.tensor((hi - lo) / 255, dtype=torch.float32)
    zp = torch.round(-torch.tensor(lo, dtype=torch.float32) / scale).clamp(0, 255)
    q, nans = quantize(x, scale, zp, 8, False, _core.SC_QSTORAGE_UINT8)
    assert nans == 0
    want = torch_quantize(x, scale, zp, 0, 255)
    assert torch.equal(q.to(torch.int64).view(9, 40), want)
    # uint8 in 16-bit storage, native byte order.
    q16, _ = quantize(x, scale, zp, 8, False, _core.SC_QSTORAGE_UINT16)
    assert torch.equal(q16.view(torch.int16).to(torch.int64).view(9, 40), want)
    with pytest.raises(swiftcompress.DtypeError, match="quant_dtype"):
        quantize(x, scale, zp, 8, False, _core.SC_QSTORAGE_INT8)


@pytest.mark.parametrize("signed", [True, False], ids=["int4", "uint4"])
def test_packed_4bit_odd_count_matches_torch(signed):
    torch.manual_seed(2)
    x = torch.randn(5, 7, dtype=torch.float64)  # 35 values: the last high nibble stays 0
    qmin, qmax = (-7, 7) if signed else (0, 15)
    scale = torch.full((1, 7), 0.3, dtype=torch.float64)  # per column: blocks [5, 1]
    scale[0, 3] = 0.7
    zp = torch.zeros(1, 7, dtype=torch.float64) + (0 if signed else 8)
    storage = _core.SC_QSTORAGE_INT4 if signed else _core.SC_QSTORAGE_UINT4
    q, _ = quantize(x, scale, zp, 4, signed, storage)
    want = torch_quantize(x, scale, zp, qmin, qmax)
    assert q.numel() == 18
    assert torch.equal(q, torch_pack4(want))
    assert int(q[-1]) >> 4 == 0
    back = torch.empty(5, 7, dtype=torch.float64)
    _core.dequantize(q.data_ptr(), q.numel(), storage, spec(scale), spec(zp), 4, signed, spec(back))
    assert torch.equal(back, (want.to(torch.float64) - zp) * scale)


def test_explicit_parameter_errors():
    x = torch.randn(2, 3)
    good, zp = torch.ones(2, 1), torch.zeros(2, 1)
    out = torch.zeros(8, dtype=torch.uint8)
    # Specs carry bare addresses: every tensor is held in a variable while the core reads it.
    zero_scale, far_zp = torch.tensor([[1.0], [0.0]]), torch.tensor([[200.0], [0.0]])
    wide_scale, wide_zp = torch.ones(1, 2), torch.zeros(1, 2)
    with pytest.raises(swiftcompress.QuantizationError, match="scale of block 1 is 0.0"):
        _core.quantize(spec(x), spec(zero_scale), spec(zp), 8, True, out.data_ptr(), 8, _core.SC_QSTORAGE_INT8)
    with pytest.raises(swiftcompress.QuantizationError, match=r"zero point of block 0 is 200.0"):
        _core.quantize(spec(x), spec(good), spec(far_zp), 8, True, out.data_ptr(), 8, _core.SC_QSTORAGE_INT8)
    with pytest.raises(swiftcompress.ShapeError, match="scale"):
        _core.quantize(spec(x), spec(wide_scale), spec(wide_zp), 8, True, out.data_ptr(), 8, _core.SC_QSTORAGE_INT8)
    with pytest.raises(swiftcompress.InvalidArgumentError, match="out_bytes"):
        _core.quantize(spec(x), spec(good), spec(zp), 8, True, out.data_ptr(), 5, _core.SC_QSTORAGE_INT8)
    with pytest.raises(swiftcompress.InvalidArgumentError, match="bits"):
        _core.quantize(spec(x), spec(good), spec(zp), 1, True, out.data_ptr(), 8, _core.SC_QSTORAGE_INT8)
    with pytest.raises(ValueError, match="out_bytes"):
        _core.quantize(spec(x), spec(good), spec(zp), 8, True, out.data_ptr(), -1, _core.SC_QSTORAGE_INT8)
    with pytest.raises(TypeError, match="out_ptr"):
        _core.quantize(spec(x), spec(good), spec(zp), 8, True, "0", 8, _core.SC_QSTORAGE_INT8)
    assert out.tolist() == [0] * 8


def quant_session():
    s = _core.Session(_core.SC_MODE_QUANTIZATION)
    s.add_modules_json(json.dumps([{"name": "", "type": "Net"}, {"name": "fc", "type": "Linear"}]))
    s.set_config(json.dumps([{"op_names": ["fc"], "target_names": ["weight"], "quant_dtype": "uint8"}]))
    return s


def test_session_quantize_and_dequantize_errors():
    """Session.quantize / dequantize reach sc_session_quantize / dequantize: their errors come back as
    the package's exceptions with the core's message. (Values through an observed target are checked
    by tests/c/bad_input.c and Tests/SwiftCompressTests/CABI/RealQuantizationCABITests.swift.)"""
    s = quant_session()
    x = torch.randn(4, 3)
    out = torch.zeros(12, dtype=torch.uint8)
    with pytest.raises(swiftcompress.StateError, match="fc.weight.*observed no batch"):
        s.quantize("fc", "weight", spec(x), out.data_ptr(), 12, _core.SC_QSTORAGE_UINT8)
    with pytest.raises(swiftcompress.StateError, match="observed no batch"):
        s.dequantize("fc", "weight", out.data_ptr(), 12, _core.SC_QSTORAGE_UINT8, spec(x))
    with pytest.raises(swiftcompress.InvalidArgumentError, match="storage is 8"):
        s.quantize("fc", "weight", spec(x), out.data_ptr(), 12, 8)
    with pytest.raises(swiftcompress.UnknownNameError, match="fc.bias"):
        s.quantize("fc", "bias", spec(x), out.data_ptr(), 12, _core.SC_QSTORAGE_UINT8)
    with pytest.raises(TypeError, match="q_ptr"):
        s.dequantize("fc", "weight", None, 12, _core.SC_QSTORAGE_UINT8, spec(x))
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.quantize("fc", "weight", spec(x), out.data_ptr(), 12, _core.SC_QSTORAGE_UINT8)
    p = _core.Session(_core.SC_MODE_PRUNING)
    p.add_modules_json(json.dumps([{"name": "fc", "type": "Linear"}]))
    p.set_config(json.dumps([{"op_names": ["fc"], "sparse_ratio": 0.5}]))
    with pytest.raises(swiftcompress.StateError, match="quantization"):
        p.quantize("fc", "weight", spec(x), out.data_ptr(), 12, _core.SC_QSTORAGE_UINT8)
    assert out.tolist() == [0] * 12


def fold(layer_code, layer, bn, in_place=False):
    weight = layer.weight.detach().clone()
    bias = None if layer.bias is None else layer.bias.detach().clone()
    fw = weight if in_place else torch.empty_like(weight)
    fb = bias if in_place and bias is not None else torch.empty(weight.shape[0])
    gamma = None if bn.weight is None else bn.weight.detach()
    beta = None if bn.bias is None else bn.bias.detach()
    _core.fold_batch_norm(layer_code, spec(weight), None if bias is None else spec(bias),
                          None if gamma is None else spec(gamma), None if beta is None else spec(beta),
                          spec(bn.running_mean), spec(bn.running_var), bn.eps, spec(fw), spec(fb))
    return fw, fb


def random_bn(bn):
    with torch.no_grad():
        n = bn.num_features
        bn.running_mean.copy_(torch.randn(n))
        bn.running_var.copy_(torch.rand(n) * 2 + 0.1)
        if bn.affine:
            bn.weight.copy_(torch.randn(n))
            bn.bias.copy_(torch.randn(n))
    return bn.eval()


@pytest.mark.parametrize("conv_bias, affine", [(True, True), (False, True), (True, False)])
def test_fold_conv_bn_matches_nni_order_torch_fusion_and_unfused_forward(conv_bias, affine):
    torch.manual_seed(3)
    conv = nn.Conv2d(3, 8, 3, bias=conv_bias).eval()
    bn = random_bn(nn.BatchNorm2d(8, affine=affine))
    fw, fb = fold(_core.SC_FOLD_CONV, conv, bn)
    # NNI 3.0's fuse_conv_bn, in float32 in its operation order.
    with torch.no_grad():
        gamma = bn.weight if affine else torch.ones(8)
        beta = bn.bias if affine else torch.zeros(8)
        b = conv.bias if conv_bias else torch.zeros(8)
        rs = torch.rsqrt(bn.running_var + bn.eps)
        nni_w = conv.weight * (gamma * rs).reshape(-1, 1, 1, 1)
        nni_b = (b - bn.running_mean) * rs * gamma + beta
    torch.testing.assert_close(fw, nni_w, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fb, nni_b, rtol=1e-6, atol=1e-6)
    fused = fuse_conv_bn_eval(conv, bn)
    torch.testing.assert_close(fw, fused.weight.detach(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(fb, fused.bias.detach(), rtol=1e-6, atol=1e-6)
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad():
        torch.testing.assert_close(F.conv2d(x, fw, fb), bn(conv(x)), rtol=1e-5, atol=1e-5)


def test_fold_linear_bn_in_place_matches_torch():
    torch.manual_seed(4)
    fc = nn.Linear(5, 6).eval()
    bn = random_bn(nn.BatchNorm1d(6))
    fused = fuse_linear_bn_eval(fc, bn)
    x = torch.randn(4, 5)
    with torch.no_grad():
        want = bn(fc(x))
    fw, fb = fold(_core.SC_FOLD_LINEAR, fc, bn, in_place=True)
    with torch.no_grad():
        rs = torch.rsqrt(bn.running_var + bn.eps)
        scale = bn.weight * rs
        torch.testing.assert_close(fw, fc.weight * scale.unsqueeze(-1), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(fb, (fc.bias - bn.running_mean) * scale + bn.bias, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(fw, fused.weight, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(F.linear(x, fw, fb), want, rtol=1e-5, atol=1e-5)


def test_fold_errors():
    w, v, v3 = torch.randn(4, 3), torch.ones(4), torch.ones(3)
    fw, fb, fw_t = torch.zeros(4, 3), torch.zeros(4), torch.zeros(3, 4)
    with pytest.raises(swiftcompress.InvalidArgumentError, match="layer is 5"):
        _core.fold_batch_norm(5, spec(w), None, None, None, spec(v), spec(v), 1e-5, spec(fw), spec(fb))
    with pytest.raises(swiftcompress.InvalidArgumentError, match="eps"):
        _core.fold_batch_norm(_core.SC_FOLD_LINEAR, spec(w), None, None, None, spec(v), spec(v), -1.0, spec(fw), spec(fb))
    with pytest.raises(swiftcompress.ShapeError, match="running_mean has 3 element"):
        _core.fold_batch_norm(_core.SC_FOLD_LINEAR, spec(w), None, None, None, spec(v3), spec(v), 1e-5,
                              spec(fw), spec(fb))
    with pytest.raises(swiftcompress.ShapeError, match="folded_weight"):
        _core.fold_batch_norm(_core.SC_FOLD_LINEAR, spec(w), None, None, None, spec(v), spec(v), 1e-5,
                              spec(fw_t), spec(fb))
    assert not fw.any() and not fb.any()
