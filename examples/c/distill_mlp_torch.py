# The step-0 losses and logits gradient of examples/c/distill_mlp.c computed with torch (float64 on the
# float32-rounded outputs of the same LCG values), checked in Tests/SwiftCompressTests/CABI/DistillExampleParityTests.swift.
#   /work/nnienv/bin/python examples/c/distill_mlp_torch.py
import torch, torch.nn.functional as F
st = [2024]
def lcg():
    st[0] = (st[0] * 6364136223846793005 + 1442695040888963407) % 2**64
    v = st[0] >> 40
    return (v - (1 << 23)) / (1 << 23)
def fill(*shape):
    n = 1
    for d in shape: n *= d
    return torch.tensor([lcg() for _ in range(n)], dtype=torch.float64).reshape(shape)
sw1, sb1, sw2, sb2 = fill(16, 8), fill(16), fill(4, 16), fill(4)
tw1, tb1, twh, tbh, twa, tba = fill(16, 8), fill(16), fill(4, 16), fill(4), fill(4, 16), fill(4)
x = fill(4, 8)
f32 = lambda t: t.float().double()
sh = f32(x @ sw1.T + sb1); th = f32(x @ tw1.T + tb1)
sl = f32(sh.relu() @ sw2.T + sb2).requires_grad_()
thead = f32(th.relu() @ twh.T + tbh); taux = f32(th.relu() @ twa.T + tba)
mse = 0.5 * F.mse_loss(sh, th)
kl = lambda s, t: F.kl_div(F.log_softmax(s / 2, -1), F.softmax(t / 2, -1), reduction='batchmean') * 4
k = [kl(sl, thead), kl(sl, taux)]
print('mse', mse.item(), 'kl head', k[0].item(), 'kl aux', k[1].item(), 'total', (mse + min(k)).item())
min(k).backward(); print(sl.grad[0].tolist())
