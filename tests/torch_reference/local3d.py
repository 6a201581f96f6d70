"""PyTorch reference of the 3D Local CNN with the official parameter names.

Re-implemented from aliyun/3D-Local-CNN-for-Gait-Recognition (``models/localcnn3d.py``,
``localization.py``, ``sample.py``, ``utils.py``; defaults ``backbone='basic'`` (and
``backbone='fconv'``),
``locator='3d'``, ``extractor='c3d'``, ``sampler='mix'``) for the parity tests of
:mod:`gait_tf.convert.local3d`. Sampling uses ``F.grid_sample`` exactly as the official
samplers do (incl. the doubled ``tanh`` and the width-1 temporal grid of ``MixSample``).
Two deliberate differences, both invisible at batch size 1 (the official evaluation):
the spatial kernels broadcast per sample (the official ``MixSample`` views them as 4D, which
pairs sample ``n`` with channel ``n`` for N > 1), and nothing is moved to CUDA.
``forward(sils [n, s, h, w])`` returns ``{"embeddings": [n, p, c]}`` (already ours layout)
and keeps the last localisation outputs in ``self.last_params`` ``[n, 6, 7]``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

PARTS = ("head", "torso", "armL", "armR", "legL", "legR")
IN_OUT_HW = {
    "head": (2, 4, 16, 11), "torso": (8, 10, 16, 11), "armL": (3, 3, 16, 11),
    "armR": (3, 3, 16, 11), "legL": (6, 5, 16, 11), "legR": (6, 5, 16, 11),
}
OFFSETS = {  # (dt, dx, dy, sigma_t, sigma, delta_t, delta)
    "head": (0.5, 0.5, 1.0 / 16, 0.3, 0.1, 0.4, 4.0 / 11),
    "torso": (0.5, 0.5, 3.0 / 8, 0.3, 0.1, 0.4, 10.0 / 11),
    "armL": (0.5, 0.3, 0.5, 0.3, 0.1, 0.4, 3.0 / 11),
    "armR": (0.5, 0.7, 0.5, 0.3, 0.1, 0.4, 3.0 / 11),
    "legL": (0.5, 0.3, 0.8, 0.3, 0.1, 0.4, 5.0 / 11),
    "legR": (0.5, 0.7, 0.8, 0.3, 0.1, 0.4, 5.0 / 11),
}
EPS = 1e-8


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, k, padding):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, bias=False, padding=padding)

    def forward(self, x):
        return F.leaky_relu(self.conv(x))


class Backbone(nn.Module):
    def __init__(self, c=(32, 64, 128)):
        super().__init__()
        self.layer1 = BasicConv2d(1, c[0], 5, 2)
        self.layer2 = BasicConv2d(c[0], c[0], 3, 1)
        self.maxpool = nn.MaxPool2d(2, stride=2)
        self.layer3 = BasicConv2d(c[0], c[1], 3, 1)
        self.layer4 = BasicConv2d(c[1], c[1], 3, 1)
        self.layer5 = BasicConv2d(c[1], c[2], 3, 1)
        self.layer6 = BasicConv2d(c[2], c[2], 3, 1)

    def forward(self, x):
        out2 = self.maxpool(self.layer2(self.layer1(x)))
        out4 = self.maxpool(self.layer4(self.layer3(out2)))
        return out4, self.layer6(self.layer5(out4))


class FConv(nn.Module):
    """Official ``utils.FConv``: ``BasicConv2d`` (conv + leaky ReLU) on each of ``p`` horizontal
    stripes (own zero padding), stripes re-assembled, then a second leaky ReLU."""

    def __init__(self, cin, cout, k, padding, p=1):
        super().__init__()
        self.conv = BasicConv2d(cin, cout, k, padding)
        self.p = p

    def forward(self, x):
        stripes = torch.cat(torch.chunk(x, self.p, dim=2), dim=0)
        out = F.leaky_relu(self.conv(stripes))
        return torch.cat(torch.chunk(out, self.p, dim=0), dim=2)


class FBackbone(Backbone):
    """Official ``FBackbone`` (``backbone='fconv'``): focal convolutions with 1, 1, 4, 4, 8, 8 stripes."""

    def __init__(self, c=(32, 64, 128)):
        super().__init__(c)
        self.layer1 = FConv(1, c[0], 5, 2, p=1)
        self.layer2 = FConv(c[0], c[0], 3, 1, p=1)
        self.layer3 = FConv(c[0], c[1], 3, 1, p=4)
        self.layer4 = FConv(c[1], c[1], 3, 1, p=4)
        self.layer5 = FConv(c[1], c[2], 3, 1, p=8)
        self.layer6 = FConv(c[2], c[2], 3, 1, p=8)


class Localization3D(nn.Module):
    def __init__(self, cin, cout, num_params=7):
        super().__init__()
        self.convs = nn.Sequential(
            nn.BatchNorm3d(cin), nn.ReLU(), nn.MaxPool3d(3, 2, 1),
            nn.Conv3d(cin, cout, 1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(),
            nn.Conv3d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(),
            nn.MaxPool3d(3, 2, 1),
            nn.Conv3d(cout, cout, 3, padding=1, bias=False), nn.ReLU(),
            nn.AdaptiveMaxPool3d(2),
        )
        self.fc = nn.Sequential(nn.Linear(cout * 8, num_params), nn.BatchNorm1d(num_params))

    def forward(self, x):
        out = self.convs(x)
        return torch.split(self.fc(out.view(out.size(0), -1)), 1, 1)


class Sampler(nn.Module):
    def __init__(self, part, mode="mix", inverse=False):
        super().__init__()
        self.inverse = inverse
        self.in_h, self.in_w, self.out_h, self.out_w = IN_OUT_HW[part]
        (self.dt_offset, self.dx_offset, self.dy_offset, _, self.sigma_offset,
         self.delta_t_offset, self.delta_offset) = OFFSETS[part]
        self.mode = mode

    def _common(self, x, loc):
        N, C, T, H, W = x.size()
        oh = int(round(self.out_w / self.in_w * self.in_h))
        dt, dx, dy, log_sigma2, log_delta_t, log_delta, log_gamma = loc
        dt = torch.tanh(dt) * T / 2.0 + T * self.dt_offset
        dx = torch.tanh(dx) * self.in_w / 2.0 + W * self.dx_offset
        dy = torch.tanh(dy) * self.in_h / 2.0 + H * self.dy_offset
        sigma2 = torch.exp(log_sigma2) * self.sigma_offset
        delta_t = torch.exp(log_delta_t) * self.delta_t_offset
        delta = torch.exp(log_delta) * self.delta_offset
        gamma = torch.sigmoid(log_gamma)
        mu_x = dx + (torch.arange(self.out_w).view(1, -1).float() - self.out_w / 2.0) * delta
        mu_y = dy + (torch.arange(oh).view(1, -1).float() - oh / 2.0) * delta
        return N, C, T, H, W, oh, dt, sigma2, delta_t, gamma, mu_x, mu_y, log_delta_t

    def _pad(self, out):
        pad_t = (self.out_h - out.size(3)) // 2
        return F.pad(out, (0, 0, pad_t, self.out_h - pad_t - out.size(3)))

    @staticmethod
    def _gauss(mu, size, sigma2):
        g = torch.arange(size).view(1, 1, -1).float()
        f = torch.exp(-torch.pow(g - mu.unsqueeze(-1), 2) / (2 * sigma2.view(-1, 1, 1)))
        return f / torch.clamp(f.sum(2, keepdim=True), min=EPS)

    def forward(self, x, loc):
        N, C, T, H, W, oh, dt, sigma2, delta_t, gamma, mu_x, mu_y, log_delta_t = self._common(x, loc)
        if self.mode == "trilinear":
            mu_t = dt + (torch.arange(T).view(1, -1).float() - T / 2.0) * delta_t
            mu_t, mu_x, mu_y = mu_t / (T - 1) * 2 - 1, mu_x / (W - 1) * 2 - 1, mu_y / (H - 1) * 2 - 1
            grid = torch.stack(torch.broadcast_tensors(
                mu_x[:, None, None, :], mu_y[:, None, :, None], mu_t[:, :, None, None]), -1)
            out = F.grid_sample(x, grid, align_corners=False) * gamma.view(-1, 1, 1, 1, 1)
            return self._pad(out)
        Fx, Fy = self._gauss(mu_x, W, sigma2), self._gauss(mu_y, H, sigma2)
        g = torch.matmul(Fy[:, None, None], torch.matmul(x, Fx.transpose(1, 2)[:, None, None]))
        if self.inverse:  # official `inverse=True`: project the glimpse back onto the H x W grid
            g = torch.matmul(Fy.transpose(1, 2)[:, None, None], torch.matmul(g, Fx[:, None, None]))
        if self.mode == "gaussian":
            mu_t = dt + (torch.arange(T).view(1, -1).float() - T / 2.0) * delta_t
            Ft = self._gauss(mu_t, T, sigma2)
            g = torch.matmul(Ft[:, None], g.reshape(N, C, T, -1)).view(N, C, T, *g.shape[3:])
            if self.inverse:
                g = torch.matmul(Ft.transpose(1, 2)[:, None], g.reshape(N, C, T, -1)).view(N, C, T, *g.shape[3:])
            return self._pad(g * gamma.view(-1, 1, 1, 1, 1))
        # MixSample: pad, then linear interpolation in time through a width-1 grid_sample
        g = self._pad(g)
        z = g.view(N, C, T, self.out_h * self.out_w).permute(0, 1, 3, 2).reshape(N, C * self.out_h * self.out_w, T, 1)
        anchor_t = int(round(T / 2.0))
        dt = torch.tanh(dt) * T / 2.0 + anchor_t
        delta_t = torch.exp(log_delta_t) * self.delta_t_offset
        mu_t = dt + (torch.arange(T).float() - T / 2.0) * delta_t
        mu_t = (mu_t / (T - 1) * 2 - 1)[:, :, None, None]
        grid = torch.cat([torch.zeros(N, T, 1, 1) - 1.0, mu_t], -1)
        out = F.grid_sample(z, grid, align_corners=False)
        out = out.view(N, C, self.out_h, self.out_w, T).permute(0, 1, 4, 2, 3)
        return out * gamma.view(-1, 1, 1, 1, 1)


class C3DBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1, bias=False)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class LocalBranch(nn.Module):
    def __init__(self, part, param_channels, in_channels, out_channels, sampler, inverse=False):
        super().__init__()
        self.localization = Localization3D(param_channels, param_channels // 2, 7)
        self.feature_extraction = C3DBlock(in_channels, out_channels)
        self.sampler = Sampler(part, sampler, inverse)

    def forward(self, x, param_x):
        loc = self.localization(param_x)
        self.last_params = torch.cat(loc, 1)
        return self.feature_extraction(self.sampler(x, loc))


class LocalBlock3D(nn.Module):
    def __init__(self, param_channels, in_channels, local_channels, out_channels, sampler, inverse=False):
        super().__init__()
        for part in PARTS:
            setattr(self, part, LocalBranch(part, param_channels, in_channels, local_channels, sampler, inverse))
        self.feature_fusion = nn.Sequential(
            nn.Conv3d(local_channels * 6 + out_channels, out_channels, 1, bias=False), nn.ReLU())

    def forward(self, x, param_x):
        outs = [param_x] + [getattr(self, p)(x, param_x.detach()) for p in PARTS]
        return self.feature_fusion(torch.cat(outs, 1))


class MTB(nn.Module):
    def __init__(self, k, channels, num_part, squeeze):
        super().__init__()
        self.avgpool = nn.AvgPool1d(k, padding=k // 2, stride=1)
        self.maxpool = nn.MaxPool1d(k, padding=k // 2, stride=1)
        hid = channels // squeeze
        k2 = 1 if k == 3 else 3
        self.conv1 = nn.Conv1d(channels * num_part, hid * num_part, 3, padding=1, groups=num_part)
        self.conv2 = nn.Conv1d(hid * num_part, channels * num_part, k2, padding=k2 // 2, groups=num_part)

    def forward(self, x):
        return (self.avgpool(x) + self.maxpool(x)) * torch.sigmoid(self.conv2(F.relu(self.conv1(x))))


class MCM(nn.Module):
    def __init__(self, channels, num_part, squeeze=4):
        super().__init__()
        self.layer1 = MTB(3, channels, num_part, squeeze)
        self.layer2 = MTB(5, channels, num_part, squeeze)

    def forward(self, x):
        N, C, T, M = x.size()
        out = x.permute(0, 3, 1, 2).contiguous().view(N, M * C, T)
        return (self.layer1(out) + self.layer2(out)).max(2)[0].view(N, M, C)


class SeparateFc(nn.Module):
    def __init__(self, num_bin, cin, cout):
        super().__init__()
        self.fc = nn.Conv2d(num_bin * cin, num_bin * cout, 1, groups=num_bin, bias=False)

    def forward(self, x):
        N, M, C = x.size()
        return self.fc(x.view(N, M * C, 1, 1)).view(N, M, -1)


class LocalCNN3D(nn.Module):
    def __init__(self, channels=(32, 64, 128), local_channels=64, out_features=256, sampler="mix",
                 bin_num=16, squeeze=4, backbone="basic", inverse=False):
        super().__init__()
        c = channels
        self.bin_num = bin_num
        self.backbone = {"basic": Backbone, "fconv": FBackbone}[backbone](c)
        self.local = LocalBlock3D(c[2], c[1], local_channels, c[2], sampler, inverse)
        self.temporal_pool = MCM(c[2], bin_num, squeeze)
        self.hpm = SeparateFc(bin_num, c[2], out_features)

    def forward(self, sils):
        s = sils.shape[1]
        if s < 2:
            sils = sils.repeat(1, 2, 1, 1)
        x = sils.unsqueeze(2)
        N, T, C, H, W = x.size()
        f4, f6 = self.backbone(x.view(-1, C, H, W))
        f4 = f4.view(N, T, *f4.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()
        f6 = f6.view(N, T, *f6.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()
        gl = self.local(f4, f6)
        n, c, t, h, w = gl.shape
        z = gl.view(n, c, t, self.bin_num, -1)
        gl = z.mean(4) + z.max(4)[0]  # HP
        out = self.hpm(self.temporal_pool(gl))
        self.last_params = torch.stack([getattr(self.local, p).last_params for p in PARTS], 1)
        return {"embeddings": out}


def randomize_loc_fc(module, seed=0, scale=0.6):
    """Give the localisation outputs a spread (their final BN otherwise makes them ~0)."""
    g = torch.Generator().manual_seed(seed)
    for p in PARTS:
        bn = getattr(module.local, p).localization.fc[1]
        with torch.no_grad():
            bn.bias.copy_(torch.randn(7, generator=g) * scale)
            bn.weight.copy_(torch.rand(7, generator=g) * scale + 0.2)
