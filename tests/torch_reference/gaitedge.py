"""PyTorch reference of OpenGait's ``GaitEdge`` (opengait/modeling/models/gaitedge.py,
backbones/u_net.py, modules.GaitAlign) with OpenGait's state_dict names, re-implemented from
reading the reference, not copied.

Two third-party pieces of the reference are re-implemented here from their documented
semantics, as neither is installable next to the CPU build of torch: torchvision's
``RoIAlign`` (``aligned=False``, adaptive sampling grid: :func:`roi_align`) and kornia's
``dilation`` / ``erosion`` with a square kernel of ones and 'geodesic' borders (a max / min
pool that ignores the padding: :func:`dilate`, :func:`erode`).

Inputs: ``ratios [n, s]``, ``rgbs [n, s, 3, h, w]`` (OpenGait's ``BaseRgbTransform``:
ImageNet-normalised 0..255 values), ``sils [n, s, h, w]`` in [0, 1];
``forward`` returns ``{"embeddings", "logits", "segmentation", "aligned"}``.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_reference.opengait import GaitGL


class ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=True), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=True), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.conv(x)


class UpConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(cin, cout, 3, 1, 1, bias=True),
                                nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.up(x)


class UNet(nn.Module):
    def __init__(self, in_channels=3, widths=(16, 32, 64, 128)):
        super().__init__()
        w = widths
        self.Maxpool = nn.MaxPool2d(2, 2)
        self.Conv1, self.Conv2 = ConvBlock(in_channels, w[0]), ConvBlock(w[0], w[1])
        self.Conv3, self.Conv4 = ConvBlock(w[1], w[2]), ConvBlock(w[2], w[3])
        self.Up4, self.Up_conv4 = UpConv(w[3], w[2]), ConvBlock(2 * w[2], w[2])
        self.Up3, self.Up_conv3 = UpConv(w[2], w[1]), ConvBlock(2 * w[1], w[1])
        self.Up2, self.Up_conv2 = UpConv(w[1], w[0]), ConvBlock(2 * w[0], w[0])
        self.Conv_1x1 = nn.Conv2d(w[0], 1, 1)

    def forward(self, x):
        x1 = self.Conv1(x)
        x2 = self.Conv2(self.Maxpool(x1))
        x3 = self.Conv3(self.Maxpool(x2))
        x4 = self.Conv4(self.Maxpool(x3))
        d4 = self.Up_conv4(torch.cat((x3, self.Up4(x4)), 1))
        d3 = self.Up_conv3(torch.cat((x2, self.Up3(d4)), 1))
        d2 = self.Up_conv2(torch.cat((x1, self.Up2(d3)), 1))
        return self.Conv_1x1(d2)


def _bilinear(img, y, x):
    """torchvision's ``bilinear_interpolate`` of ``img [c, H, W]`` at the points ``y, x [K]``
    (vectorised over the points) -> ``[c, K]``."""
    h, w = img.shape[1:]
    out_of_range = (y < -1.0) | (y > h) | (x < -1.0) | (x > w)
    y, x = y.clamp(min=0.0), x.clamp(min=0.0)
    y0, x0 = y.floor().long(), x.floor().long()
    y_edge, x_edge = y0 >= h - 1, x0 >= w - 1
    y0 = torch.where(y_edge, torch.full_like(y0, h - 1), y0)
    x0 = torch.where(x_edge, torch.full_like(x0, w - 1), x0)
    y = torch.where(y_edge, y0.to(y.dtype), y)
    x = torch.where(x_edge, x0.to(x.dtype), x)
    y1 = torch.where(y_edge, y0, y0 + 1)
    x1 = torch.where(x_edge, x0, x0 + 1)
    ly, lx = y - y0, x - x0
    hy, hx = 1.0 - ly, 1.0 - lx
    val = (hy * hx * img[:, y0, x0] + hy * lx * img[:, y0, x1] + ly * hx * img[:, y1, x0]
           + ly * lx * img[:, y1, x1])
    return torch.where(out_of_range, torch.zeros_like(val), val)


def roi_align(feat, boxes, out_hw):
    """torchvision ``roi_align(feat, [boxes], out_hw, spatial_scale=1, sampling_ratio=-1,
    aligned=False)`` for one box per image: ``feat [n, c, H, W]``, ``boxes [n, 4]`` (x1, y1,
    x2, y2) -> ``[n, c, oh, ow]``: each bin averages ``gh x gw`` bilinear samples,
    ``g = ceil(box size / bins)``, samples outside ``[-1, size]`` count as 0."""
    oh, ow = out_hw
    out = []
    for i in range(feat.shape[0]):
        x1, y1, x2, y2 = boxes[i].to(torch.float32)
        rw, rh = torch.clamp(x2 - x1, min=1.0), torch.clamp(y2 - y1, min=1.0)
        bw, bh = rw / ow, rh / oh
        gh, gw = int(math.ceil(float(rh) / oh)), int(math.ceil(float(rw) / ow))
        ph = torch.arange(oh, dtype=torch.float32)[:, None, None, None]
        pw = torch.arange(ow, dtype=torch.float32)[None, :, None, None]
        iy = torch.arange(gh, dtype=torch.float32)[None, None, :, None]
        ix = torch.arange(gw, dtype=torch.float32)[None, None, None, :]
        y = (y1 + ph * bh + (iy + 0.5) * bh / gh).expand(oh, ow, gh, gw)
        x = (x1 + pw * bw + (ix + 0.5) * bw / gw).expand(oh, ow, gh, gw)
        val = _bilinear(feat[i], y.reshape(-1), x.reshape(-1)).reshape(feat.shape[1], oh, ow, gh * gw)
        out.append(val.sum(-1) / max(gh * gw, 1))
    return torch.stack(out)


def gait_align(feature_map, binary_mask, ratios, H=64, W=44, eps=1.0):
    """OpenGait's ``GaitAlign.forward`` (feature_map, binary_mask ``[n, 1, h, w]``, ratios ``[n]``)."""
    n, c, h, w = feature_map.shape
    ratio = ratios.reshape(-1, 1)
    h_sum = binary_mask.sum(-1)
    q = (h_sum >= eps).float().cumsum(-1)
    h_top = (q == 0).float().sum(-1)
    h_bot = (q != q.max(-1, keepdim=True)[0]).float().sum(-1) + 1.0
    w_sum = binary_mask.sum(-2)
    w_cum = w_sum.cumsum(-1)
    w_center = (w_cum < w_sum.sum(-1).unsqueeze(-1) / 2.0).float().sum(-1)
    p1 = torch.clamp((W - H * ratio) / 2.0, min=0)
    p2 = p1 / (ratio * H / w)
    height = h_bot - h_top
    width = height * w / h
    pad = int(W / 2)
    fm = F.pad(feature_map, (pad, pad, 0, 0))
    w_center = w_center + pad
    left = torch.clamp(w_center - width / 2 - p2, min=0.0, max=w + 2 * pad)
    right = torch.clamp(w_center + width / 2 + p2, min=0.0, max=w + 2 * pad)
    boxes = torch.cat([left, h_top, right, h_bot], -1)
    return roi_align(fm, boxes, (H, W))


def dilate(x, k):
    return F.max_pool2d(x, k, 1, k // 2)


def erode(x, k):
    return -F.max_pool2d(-x, k, 1, k // 2)


class GaitEdge(GaitGL):
    """GaitGL (the parent's parameters at the top level, as OpenGait's subclass) + ``Backbone`` U-Net."""

    def __init__(self, channels=(32, 64, 128), class_num=74, edge=True, align=True, kernel_size=3,
                 unet_widths=(16, 32, 64, 128)):
        super().__init__(channels=channels, class_num=class_num)
        self.Backbone = UNet(3, unet_widths)
        self.edge, self.align, self.k = edge, align, kernel_size

    def forward(self, ratios, rgbs, sils):
        n, s, c, h, w = rgbs.shape
        logits = torch.sigmoid(self.Backbone(rgbs.reshape(n * s, c, h, w)))
        sils = sils.reshape(n * s, 1, h, w)
        if self.edge:
            dil = dilate(sils, self.k) > 0.5
            ero = erode(sils, self.k) > 0.5
            new = (dil ^ ero).float() * logits + ero.float() * sils
            crops = gait_align(new, sils, ratios) if self.align else F.interpolate(
                new, (64, 44), mode="bilinear", align_corners=False, antialias=True)
        else:
            mask = torch.round(logits)
            crops = gait_align(logits, mask, ratios) if self.align else F.interpolate(
                logits, (64, 44), mode="bilinear", align_corners=False, antialias=True)
        out = super().forward(crops.reshape(n, s, 64, 44))
        out["segmentation"] = logits.reshape(n, s, 1, h, w)
        out["aligned"] = crops.reshape(n, s, 1, 64, 44)
        return out
