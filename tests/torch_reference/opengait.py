"""PyTorch references of GaitSet, GaitPart, GLN and GaitGL with OpenGait's state_dict names.

Layout is OpenGait's: silhouettes ``[n, s, h, w]``, features ``[n, c, s, h, w]``,
embeddings ``[n, c, p]``. ``forward`` returns ``{"embeddings": ..., "logits": ...}``
(logits only where the model has a classifier). Use ``randomize_bn`` to give BatchNorm layers
non-trivial running statistics before a parity comparison.
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


def leaky():
    return nn.LeakyReLU()  # slope 0.01


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, k, s, p):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=False)

    def forward(self, x):
        return self.conv(x)


class FocalConv2d(nn.Module):
    def __init__(self, cin, cout, k, halving, padding):
        super().__init__()
        self.halving = halving
        self.conv = nn.Conv2d(cin, cout, k, padding=padding, bias=False)

    def forward(self, x):
        if self.halving == 0:
            return self.conv(x)
        size = x.size(2) // 2**self.halving
        return torch.cat([self.conv(z) for z in x.split(size, 2)], 2)


class BasicConv3d(nn.Module):
    def __init__(self, cin, cout, k=(3, 3, 3), s=(1, 1, 1), p=(1, 1, 1)):
        super().__init__()
        self.conv3d = nn.Conv3d(cin, cout, k, stride=s, padding=p, bias=False)

    def forward(self, x):
        return self.conv3d(x)


class SetBlockWrapper(nn.Module):
    """Apply ``forward_block`` to every frame of ``[n, c, s, h, w]``."""

    def __init__(self, block):
        super().__init__()
        self.forward_block = block

    def forward(self, x):
        n, c, s, h, w = x.shape
        y = self.forward_block(x.transpose(1, 2).reshape(n * s, c, h, w))
        return y.reshape(n, s, *y.shape[1:]).transpose(1, 2).contiguous()


class PackSequenceWrapper(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.pooling_func = fn

    def forward(self, x, **kw):
        return self.pooling_func(x, **kw)


def hpp(x, bins=(16, 8, 4, 2, 1)):
    """``[n, c, h, w] -> [n, c, p]`` mean + max per bin."""
    n, c = x.shape[:2]
    out = []
    for b in bins:
        z = x.reshape(n, c, b, -1)
        out.append(z.mean(-1) + z.max(-1)[0])
    return torch.cat(out, -1)


def set_max(x):
    return x.max(2)[0]


class SeparateFCs(nn.Module):
    def __init__(self, parts_num, in_channels, out_channels, norm=False):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts_num, in_channels, out_channels)))
        self.norm = norm

    def forward(self, x):  # [n, c, p]
        w = F.normalize(self.fc_bin, dim=1) if self.norm else self.fc_bin
        return x.permute(2, 0, 1).matmul(w).permute(1, 2, 0).contiguous()


class SeparateBNNecks(nn.Module):
    def __init__(self, parts_num, in_channels, class_num, norm=True):
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts_num, in_channels, class_num)))
        self.bn1d = nn.BatchNorm1d(in_channels * parts_num)
        self.norm = norm

    def forward(self, x):
        n, c, p = x.shape
        x = self.bn1d(x.reshape(n, -1)).reshape(n, c, p)
        f = x.permute(2, 0, 1)
        if self.norm:
            f = F.normalize(f, dim=-1)
            logits = f.matmul(F.normalize(self.fc_bin, dim=1))
        else:
            logits = f.matmul(self.fc_bin)
        return f.permute(1, 2, 0).contiguous(), logits.permute(1, 2, 0).contiguous()


def kaiming_(module, seed=0):
    """Re-initialise conv/linear weights with He-normal (so activations keep an O(1) scale)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
        elif isinstance(m, (SeparateFCs, SeparateBNNecks)):
            with torch.no_grad():
                m.fc_bin.copy_(torch.randn(m.fc_bin.shape, generator=g) * m.fc_bin.shape[1] ** -0.5)


def randomize_bn(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)


# ---------------------------------------------------------------- GaitSet


class GaitSet(nn.Module):
    def __init__(self, in_channels=(1, 32, 64, 128), out_channels=256, bin_num=(16, 8, 4, 2, 1)):
        super().__init__()
        c = in_channels
        self.bins = bin_num

        def block(ci, co, k, pool):
            layers = [BasicConv2d(ci, co, k, 1, k // 2), leaky(), BasicConv2d(co, co, 3, 1, 1), leaky()]
            if pool:
                layers.append(nn.MaxPool2d(2, 2))
            return nn.Sequential(*layers)

        b1, b2, b3 = block(c[0], c[1], 5, True), block(c[1], c[2], 3, True), block(c[2], c[3], 3, False)
        self.gl_block2 = copy.deepcopy(b2)
        self.gl_block3 = copy.deepcopy(b3)
        self.set_block1, self.set_block2, self.set_block3 = SetBlockWrapper(b1), SetBlockWrapper(b2), SetBlockWrapper(b3)
        self.set_pooling = PackSequenceWrapper(set_max)
        self.Head = SeparateFCs(2 * sum(bin_num), c[3], out_channels)

    def forward(self, sils):
        x = sils.unsqueeze(1)
        x = self.set_block1(x)
        gl = self.gl_block2(self.set_pooling(x))
        x = self.set_block2(x)
        gl = self.gl_block3(gl + self.set_pooling(x))
        x = self.set_block3(x)
        x = self.set_pooling(x)
        gl = gl + x
        feat = torch.cat([hpp(x, self.bins), hpp(gl, self.bins)], -1)
        return {"embeddings": self.Head(feat)}


# ---------------------------------------------------------------- GaitPart


class Plain(nn.Module):
    def __init__(self, layers_cfg, in_channels=1):
        super().__init__()
        layers, cin = [], in_channels
        for i, cfg in enumerate(layers_cfg):
            if cfg == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            typ, *rest = cfg.split("-")
            k, p = (5, 2) if i == 0 else (3, 1)
            cout = int(rest[0])
            conv = BasicConv2d(cin, cout, k, 1, p) if typ == "BC" else FocalConv2d(cin, cout, k, int(rest[1]), p)
            layers += [conv, leaky()]
            cin = cout
        self.feature = nn.Sequential(*layers)

    def forward(self, x):
        return self.feature(x)


class TemporalFeatureAggregator(nn.Module):
    def __init__(self, in_channels, squeeze=4, parts_num=16):
        super().__init__()
        hid = in_channels // squeeze

        def conv1d(ci, co, k):
            m = nn.Module()
            m.conv = nn.Conv1d(ci, co, k, padding=k // 2, bias=False)
            m.forward = lambda x, conv=m.conv: conv(x)
            return m

        self.conv1d3x1 = nn.ModuleList(
            [nn.Sequential(conv1d(in_channels, hid, 3), leaky(), conv1d(hid, in_channels, 1)) for _ in range(parts_num)]
        )
        self.conv1d3x3 = nn.ModuleList(
            [nn.Sequential(conv1d(in_channels, hid, 3), leaky(), conv1d(hid, in_channels, 3)) for _ in range(parts_num)]
        )
        self.avg3, self.max3 = nn.AvgPool1d(3, 1, 1), nn.MaxPool1d(3, 1, 1)
        self.avg5, self.max5 = nn.AvgPool1d(5, 1, 2), nn.MaxPool1d(5, 1, 2)

    def forward(self, x):  # [n, c, s, p]
        n, c, s, p = x.shape
        x = x.permute(3, 0, 1, 2).contiguous()  # [p, n, c, s]
        flat = x.view(-1, c, s)
        s31 = torch.sigmoid(torch.stack([conv(x[i]) for i, conv in enumerate(self.conv1d3x1)]))
        s33 = torch.sigmoid(torch.stack([conv(x[i]) for i, conv in enumerate(self.conv1d3x3)]))
        f31 = (self.avg3(flat) + self.max3(flat)).view(p, n, c, s) * s31
        f33 = (self.avg5(flat) + self.max5(flat)).view(p, n, c, s) * s33
        return (f31 + f33).max(-1)[0].permute(1, 2, 0).contiguous()  # [n, c, p]


class GaitPart(nn.Module):
    def __init__(self, layers_cfg, out_channels=128, bin_num=(16,)):
        super().__init__()
        cin = [int(c.split("-")[1]) for c in layers_cfg if c != "M"][-1]
        self.bins = bin_num
        self.Backbone = SetBlockWrapper(Plain(layers_cfg))
        self.Head = SeparateFCs(sum(bin_num), cin, out_channels)
        self.TFA = PackSequenceWrapper(TemporalFeatureAggregator(cin, parts_num=sum(bin_num)))

    def forward(self, sils):
        x = self.Backbone(sils.unsqueeze(1))  # [n, c, s, h, w]
        n, c, s, h, w = x.shape
        x = hpp(x.transpose(1, 2).reshape(n * s, c, h, w), self.bins)
        x = x.reshape(n, s, c, -1).transpose(1, 2)  # [n, c, s, p]
        return {"embeddings": self.Head(self.TFA(x))}


# ---------------------------------------------------------------- GLN


class GLN(nn.Module):
    def __init__(self, in_channels=(1, 32, 64, 128), lateral_dim=256, hidden_dim=256, class_num=74,
                 bin_num=(16, 8, 4, 2, 1), pretrain=False, dropout=0.9):
        super().__init__()
        c = in_channels
        self.bins, self.pretrain = bin_num, pretrain

        def stage(ci, co, k=3):
            return nn.Sequential(BasicConv2d(ci, co, k, 1, k // 2), leaky(), BasicConv2d(co, co, 3, 1, 1), leaky())

        s0, s1, s2 = stage(c[0], c[1], 5), stage(c[1], c[2]), stage(c[2], c[3])
        self.set_stage_1, self.set_stage_2 = copy.deepcopy(s1), copy.deepcopy(s2)
        self.sil_stage_0, self.sil_stage_1, self.sil_stage_2 = SetBlockWrapper(s0), SetBlockWrapper(s1), SetBlockWrapper(s2)
        self.set_pooling = PackSequenceWrapper(set_max)
        self.MaxP_sil = SetBlockWrapper(nn.MaxPool2d(2, 2))
        self.MaxP_set = nn.MaxPool2d(2, 2)
        for i in (1, 2, 3):
            setattr(self, f"lateral_layer{i}", nn.Conv2d(c[i] * 2, lateral_dim, 1, bias=False))
            setattr(self, f"smooth_layer{i}", nn.Conv2d(lateral_dim, lateral_dim, 3, padding=1, bias=False))
        parts = 3 * sum(bin_num)
        self.Head = SeparateFCs(parts, lateral_dim, hidden_dim)
        if not pretrain:
            self.encoder_bn = nn.BatchNorm1d(parts * hidden_dim)
            self.encoder_bn.bias.requires_grad_(False)
            self.reduce_dp = nn.Dropout(dropout)
            self.reduce_ac = nn.ReLU()
            self.reduce_fc = nn.Linear(parts * hidden_dim, hidden_dim, bias=False)
            self.reduce_bn = nn.BatchNorm1d(hidden_dim)
            self.reduce_bn.bias.requires_grad_(False)
            self.reduce_cls = nn.Linear(hidden_dim, class_num, bias=False)

    @staticmethod
    def up_add(x, y):
        return F.interpolate(x, scale_factor=2, mode="nearest") + y

    def forward(self, sils):
        x = sils.unsqueeze(1)
        n = x.shape[0]
        sil0 = self.sil_stage_0(x)
        set0 = self.set_pooling(sil0)
        sil1_in = self.MaxP_sil(sil0)
        sil1 = self.sil_stage_1(sil1_in)
        sil2 = self.sil_stage_2(self.MaxP_sil(sil1))
        set1_sil = self.set_pooling(sil1)
        set1 = self.set_stage_1(self.set_pooling(sil1_in)) + set1_sil
        set2_sil = self.set_pooling(sil2)
        set2 = self.set_stage_2(self.MaxP_set(set1)) + set2_sil
        l3 = self.lateral_layer3(torch.cat((set2_sil, set2), 1))
        l2 = self.up_add(l3, self.lateral_layer2(torch.cat((set1_sil, set1), 1)))
        l1 = self.up_add(l2, self.lateral_layer1(torch.cat((set0, set0), 1)))
        feat = torch.cat([hpp(self.smooth_layer1(l1), self.bins), hpp(self.smooth_layer2(l2), self.bins),
                          hpp(self.smooth_layer3(l3), self.bins)], -1)
        feat = self.Head(feat)
        out = {"embeddings": feat}
        if not self.pretrain:
            z = self.encoder_bn(feat.reshape(n, -1))
            z = self.reduce_fc(self.reduce_ac(self.reduce_dp(z)))
            out["logits"] = self.reduce_cls(self.reduce_bn(z)).unsqueeze(1)  # [n, 1, classes]
        return out


# ---------------------------------------------------------------- GaitGL


class GLConv(nn.Module):
    def __init__(self, cin, cout, halving, fm_sign=False):
        super().__init__()
        self.halving, self.fm_sign = halving, fm_sign
        self.global_conv3d = BasicConv3d(cin, cout)
        self.local_conv3d = BasicConv3d(cin, cout)

    def forward(self, x):
        g = self.global_conv3d(x)
        if self.halving == 0:
            lc = self.local_conv3d(x)
        else:
            size = x.size(3) // 2**self.halving
            lc = torch.cat([self.local_conv3d(z) for z in x.split(size, 3)], 3)
        if self.fm_sign:
            return F.leaky_relu(torch.cat([g, lc], 3))
        return F.leaky_relu(g) + F.leaky_relu(lc)


class GeMHPP(nn.Module):
    def __init__(self, bin_num=(64,), p=6.5, eps=1e-6):
        super().__init__()
        self.bins, self.eps = bin_num, eps
        self.p = nn.Parameter(torch.ones(1) * p)

    def forward(self, x):
        n, c = x.shape[:2]
        out = []
        for b in self.bins:
            z = x.reshape(n, c, b, -1)
            out.append(F.avg_pool2d(z.clamp(min=self.eps).pow(self.p), (1, z.size(-1))).pow(1.0 / self.p).squeeze(-1))
        return torch.cat(out, -1)


class GaitGL(nn.Module):
    def __init__(self, channels=(32, 64, 128), class_num=74, variant="casia_b", bnneck=False):
        super().__init__()
        c = channels
        if variant == "oumvlp":
            self.conv3d = nn.Sequential(BasicConv3d(1, c[0]), leaky(), BasicConv3d(c[0], c[0]), leaky())
            self.GLConvA0 = nn.Sequential(GLConv(c[0], c[1], 1), GLConv(c[1], c[1], 1))
            self.GLConvA1 = nn.Sequential(GLConv(c[1], c[2], 1), GLConv(c[2], c[2], 1))
            self.GLConvB2 = nn.Sequential(GLConv(c[2], c[3], 1), GLConv(c[3], c[3], 1, fm_sign=True))
        else:
            self.conv3d = nn.Sequential(BasicConv3d(1, c[0]), leaky())
            self.GLConvA0 = GLConv(c[0], c[1], 3)
            self.GLConvA1 = GLConv(c[1], c[2], 3)
            self.GLConvB2 = GLConv(c[2], c[2], 3, fm_sign=True)
        self.LTA = nn.Sequential(BasicConv3d(c[0], c[0], (3, 1, 1), (3, 1, 1), (0, 0, 0)), leaky())
        self.MaxPool0 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.TP = PackSequenceWrapper(set_max)
        self.HPP = GeMHPP()
        self.Head0 = SeparateFCs(64, c[-1], c[-1])
        self.bnneck = bnneck
        if bnneck:
            self.BNNecks = SeparateBNNecks(64, c[-1], class_num)
        else:
            self.Bn = nn.BatchNorm1d(c[-1])
            self.Head1 = SeparateFCs(64, c[-1], class_num)

    def forward(self, sils):
        x = sils.unsqueeze(1)
        s = x.shape[2]
        if s < 3:
            x = x.repeat(1, 1, 3 if s == 1 else 2, 1, 1)
        x = self.LTA(self.conv3d(x))
        x = self.MaxPool0(self.GLConvA0(x))
        x = self.GLConvB2(self.GLConvA1(x))
        x = self.HPP(self.TP(x))
        gait = self.Head0(x)
        if self.bnneck:
            _, logits = self.BNNecks(gait)
            return {"embeddings": gait, "logits": logits}
        bnft = self.Bn(gait)
        return {"embeddings": bnft, "logits": self.Head1(bnft)}


def build(name, **cfg):
    return {"gaitset": GaitSet, "gaitpart": GaitPart, "gln": GLN, "gaitgl": GaitGL}[name](**cfg)


def n_parameters(module):
    return sum(p.numel() for p in module.parameters())
