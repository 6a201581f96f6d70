"""PyTorch reference of HSTL with the official (OpenGait v1) parameter names.

Re-implemented from gudaochangsheng/HSTL (``lib/modeling/models/HSTL-{CB,OU,Gait3D}.py``) for
the parity tests of :mod:`gait_tf.convert.hstl`. Module names and nesting follow the
official code (``arme1``, ``astp1``, ``MaxPool0``, ``arme2``, ``astp2``, ``fta.mma.{i}.fcs``,
``astp2_fta``, ``arme3``, ``astp3``, [``arme4``, ``astp4``], ``HPP``, ``Head0``, ``Bn``,
``Head1``). Evaluation path (``seqL=None``): temporal max over all frames. ``forward(sils
[n, s, h, w])`` returns ``{"embeddings": [n, c, p], "logits": [n, c, p]}`` (OpenGait layout).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_reference.opengait import BasicConv2d, BasicConv3d, GeMHPP, SeparateFCs


class ARMEConv(nn.Module):
    def __init__(self, cin, cout, split_param):
        super().__init__()
        self.split_param = list(split_param)
        self.conv3d = nn.ModuleList([BasicConv3d(cin, cout) for _ in split_param])

    def forward(self, x):
        feat = x.split(self.split_param, 3)
        return F.leaky_relu(torch.cat([conv(z) for conv, z in zip(self.conv3d, feat)], 3))


class FTA(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.FP_3 = nn.MaxPool3d((3, 1, 1), stride=(3, 1, 1), padding=(0, 0, 0))
        self.FP_5 = nn.MaxPool3d((5, 1, 1), stride=(3, 1, 1), padding=(1, 0, 0))
        self.fcs = nn.ModuleList([nn.Conv1d(channel, channel, 1) for _ in range(2)])

    def forward(self, x):
        n, c = x.shape[:2]
        outs = [self.FP_3(x), self.FP_5(x)]
        s = sum(outs).mean((3, 4))  # [n, c, t']
        w = torch.softmax(torch.stack([fc(s) for fc in self.fcs]), 0)[..., None, None]
        return (w * torch.stack(outs)).sum(0)


class FTABlock(nn.Module):
    def __init__(self, split_param, channel):
        super().__init__()
        self.split_param = list(split_param)
        self.mma = nn.ModuleList([FTA(channel) for _ in split_param])

    def forward(self, x):
        return torch.cat([m(z) for m, z in zip(self.mma, x.split(self.split_param, 3))], 3)


class ASTP(nn.Module):
    def __init__(self, split_param, cin, cout, flag=True):
        super().__init__()
        self.split_param = list(split_param)
        self.hpp = nn.ModuleList([GeMHPP(bin_num=[1]) for _ in split_param])
        self.flag = flag
        if flag:
            self.proj = BasicConv2d(cin, cout, 1, 1, 0)

    def forward(self, x):
        x = x.max(2)[0]
        if self.flag:
            x = self.proj(x)
        return torch.cat([h(z) for h, z in zip(self.hpp, x.split(self.split_param, 2))], -1)


class HSTL(nn.Module):
    def __init__(self, channels=(32, 64, 128), class_num=74, variant="casia_b",
                 regions=((40, 24), (8, 32, 16, 8)), hpp_bins=(64,), height=64):
        super().__init__()
        c = list(channels)
        if variant == "casia_b":
            self.arme1 = nn.Sequential(BasicConv3d(1, c[0]), nn.LeakyReLU())
            widths = [(c[0], c[0], c[1]), (c[1], c[2], c[2])]
        else:
            self.arme1 = nn.Sequential(BasicConv3d(1, c[0]), nn.LeakyReLU(), BasicConv3d(c[0], c[0]), nn.LeakyReLU())
            self.MaxPool0 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
            widths = [(c[k - 1], c[k], c[k]) for k in range(1, len(c))]
        self.variant = variant
        self.astp1 = ASTP([height], c[0], c[-1])
        last = len(widths) - 1
        for s, ((ci, w0, w1), reg) in enumerate(zip(widths, regions)):
            k = s + 2
            setattr(self, f"arme{k}", nn.Sequential(ARMEConv(ci, w0, reg), ARMEConv(w0, w1, reg)))
            setattr(self, f"astp{k}", ASTP(reg, w1, c[-1], flag=s != last))
            if s == 0:
                self.fta = FTABlock(reg, w1)
                self.astp2_fta = ASTP(reg, w1, c[-1])
        self.n_stages = len(widths)
        self.HPP = GeMHPP(bin_num=list(hpp_bins))
        parts = 1 + 2 * len(regions[0]) + sum(len(r) for r in regions[1:]) + sum(hpp_bins)
        self.Head0 = SeparateFCs(parts, c[-1], c[-1])
        self.Bn = nn.BatchNorm1d(c[-1])
        self.Head1 = SeparateFCs(parts, c[-1], class_num)

    def forward(self, sils):
        x = sils.unsqueeze(1)
        s = x.shape[2]
        if s < 3:
            x = x.repeat(1, 1, 3 if s == 1 else 2, 1, 1)
        x = self.arme1(x)
        feats = [self.astp1(x)]
        if self.variant != "casia_b":
            x = self.MaxPool0(x)
        for k in range(2, self.n_stages + 2):
            x = getattr(self, f"arme{k}")(x)
            feats.append(getattr(self, f"astp{k}")(x))
            if k == 2:
                x = self.fta(x)
                feats.append(self.astp2_fta(x))
        feats.append(self.HPP(x.max(2)[0]))
        gait = self.Head0(torch.cat(feats, -1))  # [n, c, p]
        bnft = self.Bn(gait)
        return {"embeddings": bnft, "logits": self.Head1(bnft)}


def randomize_gem(module, seed=0, low=3.0, high=8.0):
    """Give every GeM exponent ``p`` a different value in ``[low, high)``."""
    g = torch.Generator().manual_seed(seed)
    for name, p in module.named_parameters():
        if name.endswith(".p") or name == "p":
            with torch.no_grad():
                p.copy_(low + (high - low) * torch.rand(p.shape, generator=g))
