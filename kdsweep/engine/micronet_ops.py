"""001's operation count: the rules of torchscope, the counter 001 ran for its MicroNet score.

001 counted with torchscope (chrisqqq123/FA-Dist-EfficientNet @ 6364909, torchscope-master/,
helper.py `compute_madd` with `mul_factor = 0.5`: a multiply is half an operation, an add
or any other operation one). torchscope hooks the leaf modules of the original model and
prices each kind from its shapes (C, H, W per sample; m = 0.5 the multiply's price):

  conv (k x k, Cin / groups inputs per output)  per output: m*K + (K - 1) [+ 1 with bias], K = k*k*Cin/g
  batch norm                                    per element: 2m + 2 (subtract, divide, scale, shift)
  Swish (x * sigmoid x)                         per element: 3m + 1
  sigmoid                                       per element: 2m + 1
  ReLU, ReLU6                                   per element: 1   (LeakyReLU, PReLU, ELU: 0)
  max-pool k x k                                per output: k*k - 1
  avg-pool k x k                                per output: k*k
  adaptive avg-pool (and a spatial mean)        per output: the input's H*W
  linear (in -> out)                            out * (m*in + in - 1)   (bias not counted)
  L2 normalisation of an n-vector               n * (n - 1 + m*n + 1)   (torchscope's L2norm, as written)
  cosine against the class matrix (in -> out)   out * (m*in + in - 1)   (its Arcface)
  softmax of n                                  3n - 1
  anything else                                 0: padding, dropout, reshapes, and the element-wise
                                                adds and multiplies that are not modules in 001's
                                                model (the residual adds, the SE gate's x * s),
                                                which torchscope never saw.

kdsweep's models do some of this in functions rather than modules (the SE's mean and
sigmoid, the cosine head), so the rules are applied to torch calls instead of modules,
through a `TorchFunctionMode`: the price depends on the call and its shapes, not on how a
model groups its layers. Work on parameters alone (the cosine head normalising its class
matrix) is not counted, as torchscope did not count it. One quirk kept: torchscope prices
Swish and sigmoid by C * H * H (it assumes square maps); these are the same for the square
inputs counted here. On 001's ex / exx this gives torchscope's 382,885,052 and 353,361,693.

Where a model does this work in functions or with torch's own `nn.SiLU`, torchscope itself
would have priced it 0 (it sees modules only, and only 001's `Swish` class); the rules are
applied here regardless: on torchvision's resnet18 the two counts agree exactly, on
mobilenet_v2 / shufflenet_v2 this count adds their functional global pool (5,120 / 4,096
ops at 64x64), on mobilenets_m its SiLUs.
"""

from __future__ import annotations

from collections import Counter
from math import prod

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

MUL = 0.5  # 001: "ops counting a multiply as half an operation"


def _per_sample(t: torch.Tensor) -> int:
    return prod(t.shape[1:]) if t.dim() > 1 else t.numel()


def _pair(k) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else (int(k[0]), int(k[-1]))


def _arg(args, kwargs, index: int, name: str, default=None):
    return args[index] if len(args) > index else kwargs.get(name, default)


def _conv(args, kwargs, out) -> float:
    weight, bias = args[1], _arg(args, kwargs, 2, "bias")
    k = prod(weight.shape[1:])  # k*k*Cin/groups inputs per output
    return _per_sample(out) * (MUL * k + k - 1 + (bias is not None))


def _linear_like(inp: torch.Tensor, out: torch.Tensor) -> float:
    n_in = inp.shape[-1]
    return out.shape[-1] * (MUL * n_in + n_in - 1)


def _mean(args, kwargs, out) -> float:
    x, dims = args[0], _arg(args, kwargs, 1, "dim")
    if x.dim() == 4 and dims is not None and {d % 4 for d in ((dims,) if isinstance(dims, int) else dims)} == {2, 3}:
        return _per_sample(x)  # a global average pool
    return 0.0


def _normalize(args, kwargs, out) -> float:
    x, dim = args[0], _arg(args, kwargs, 2, "dim", 1)
    if x.dim() != 2 or dim % 2 != 1:
        return 0.0
    n = x.shape[1]
    return n * (n - 1 + MUL * n + 1)


def _matmul(args, kwargs, out) -> float:
    return _linear_like(args[0], out) if args[0].dim() == 2 and args[1].dim() == 2 else 0.0


# torch call -> (kind, price of one call for one sample)
RULES = {
    F.conv2d: ("conv", _conv),
    F.batch_norm: ("batch norm", lambda a, k, o: (2 * MUL + 2) * _per_sample(a[0])),
    F.silu: ("swish", lambda a, k, o: (3 * MUL + 1) * _per_sample(a[0])),
    torch.sigmoid: ("sigmoid", lambda a, k, o: (2 * MUL + 1) * _per_sample(a[0])),
    torch.Tensor.sigmoid: ("sigmoid", lambda a, k, o: (2 * MUL + 1) * _per_sample(a[0])),
    F.relu: ("relu", lambda a, k, o: _per_sample(a[0])),
    torch.relu: ("relu", lambda a, k, o: _per_sample(a[0])),
    F.relu6: ("relu", lambda a, k, o: _per_sample(a[0])),
    F.hardtanh: ("relu", lambda a, k, o: _per_sample(a[0])),  # nn.ReLU6 is a hardtanh(0, 6)
    F.max_pool2d: ("pool", lambda a, k, o: (prod(_pair(_arg(a, k, 1, "kernel_size"))) - 1) * _per_sample(o)),
    F.avg_pool2d: ("pool", lambda a, k, o: prod(_pair(_arg(a, k, 1, "kernel_size"))) * _per_sample(o)),
    F.adaptive_avg_pool2d: ("pool", lambda a, k, o: prod(a[0].shape[-2:]) * _per_sample(o)),
    torch.Tensor.mean: ("pool", _mean),
    torch.mean: ("pool", _mean),
    F.linear: ("linear", lambda a, k, o: _linear_like(a[0], o)),
    F.normalize: ("l2 norm", _normalize),
    torch.Tensor.matmul: ("cosine", _matmul),  # `a @ b` arrives as Tensor.matmul
    torch.matmul: ("cosine", _matmul),
    torch.mm: ("cosine", _matmul),
    F.softmax: ("softmax", lambda a, k, o: 3 * _per_sample(a[0]) - 1),
}


class _Counter(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.by_kind: Counter[str] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = RULES.get(func)
        if rule is not None and args and isinstance(args[0], torch.Tensor) and not isinstance(args[0], nn.Parameter):
            kind, price = rule
            self.by_kind[kind] += price(args, kwargs, out)
        return out


def micronet_ops(model: nn.Module, input_size: int, in_channels: int = 3) -> dict[str, float]:
    """001's operation count of one image, by kind; eval mode, model mode restored."""
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    counter = _Counter()
    try:
        with torch.no_grad(), counter:
            model(torch.zeros(1, in_channels, input_size, input_size, device=device, dtype=dtype))
    finally:
        model.train(was_training)
    return dict(counter.by_kind)
