"""PyTorch references of OpenGait's ResNet-like models with OpenGait's state_dict names:
``Baseline`` (GaitBase: ResNet9 backbone), ``DeepGaitV2`` (2D / P3D / 3D; SkeletonGait is
``DeepGaitV2`` with 2 input channels) and ``SkeletonGaitPP``.

Re-implemented from reading the reference (opengait/modeling/models/{baseline,deepgaitv2,
skeletongait++}.py, backbones/resnet.py, modules.py), not copied. Layout is OpenGait's:
inputs ``[n, s, h, w]`` (one channel) or ``[n, s, c, h, w]``, embeddings ``[n, c, p]``.
``forward`` returns ``{"embeddings", "logits"}`` (logits ``[n, class_num, p]``).
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_reference.opengait import SeparateBNNecks, SeparateFCs, SetBlockWrapper, hpp


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` == OpenGait's ``BasicBlock2D`` (same parameter names)."""

    expansion = 1

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        stride = stride[0] if isinstance(stride, (list, tuple)) else stride
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        idt = self.downsample(x) if self.downsample is not None else x
        return self.relu(y + idt)


class BasicBlockP3D(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=(1, 1), downsample=None):
        super().__init__()
        s = stride[0] if isinstance(stride, (list, tuple)) else stride
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = SetBlockWrapper(nn.Sequential(conv3x3(cin, planes, s), nn.BatchNorm2d(planes), nn.ReLU(inplace=True)))
        self.conv2 = SetBlockWrapper(nn.Sequential(conv3x3(planes, planes), nn.BatchNorm2d(planes)))
        self.shortcut3d = nn.Conv3d(planes, planes, (3, 1, 1), (1, 1, 1), (1, 0, 0), bias=False)
        self.sbn = nn.BatchNorm3d(planes)
        self.downsample = downsample

    def forward(self, x):  # [n, c, s, h, w]
        y = self.conv1(x)
        y = self.relu(y + self.sbn(self.shortcut3d(y)))
        y = self.conv2(y)
        idt = self.downsample(x) if self.downsample is not None else x
        return self.relu(y + idt)


class BasicBlock3D(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=(1, 1, 1), downsample=None):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, planes, 3, stride=list(stride), padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.downsample = downsample

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        idt = self.downsample(x) if self.downsample is not None else x
        return self.relu(y + idt)


# ---------------------------------------------------------------- GaitBase


class ResNet9(nn.Module):
    """The parameters of OpenGait's ``ResNet9`` (torchvision ``ResNet`` with replaced stem and
    layers; ``fc`` is None, so it holds conv1, bn1, layer1..4 only)."""

    def __init__(self, channels=(64, 128, 256, 512), in_channel=1, layers=(1, 1, 1, 1), strides=(1, 2, 2, 1),
                 maxpool=True):
        super().__init__()
        self.maxpool_flag = maxpool
        self.inplanes = channels[0]
        self.conv1 = nn.Module()
        self.conv1.conv = nn.Conv2d(in_channel, channels[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i in range(4):
            setattr(self, f"layer{i + 1}", self._make_layer(channels[i], layers[i], strides[i]))

    def _make_layer(self, planes, blocks, stride):
        if blocks < 1:
            return nn.Identity()
        down = None
        if stride != 1 or self.inplanes != planes:
            down = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        seq = [BasicBlock(self.inplanes, planes, stride, down)]
        self.inplanes = planes
        seq += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*seq)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1.conv(x)))
        if self.maxpool_flag:
            x = self.maxpool(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class Baseline(nn.Module):
    """OpenGait ``Baseline`` (GaitBase): ResNet9 per frame, temporal max, HPP, FCs, BNNecks."""

    def __init__(self, channels=(64, 128, 256, 512), layers=(1, 1, 1, 1), strides=(1, 2, 2, 1), maxpool=False,
                 in_channel=1, out_channels=256, class_num=74, bin_num=(16,)):
        super().__init__()
        self.Backbone = SetBlockWrapper(ResNet9(channels, in_channel, layers, strides, maxpool))
        parts = sum(bin_num)
        self.bins = bin_num
        self.FCs = SeparateFCs(parts, channels[3], out_channels)
        self.BNNecks = SeparateBNNecks(parts, out_channels, class_num)

    def forward(self, sils):
        x = sils.unsqueeze(1) if sils.dim() == 4 else sils.transpose(1, 2)
        x = self.Backbone(x).max(2)[0]
        e1 = self.FCs(hpp(x, self.bins))
        _, logits = self.BNNecks(e1)
        return {"embeddings": e1, "logits": logits}


# ---------------------------------------------------------------- DeepGaitV2 / SkeletonGait(++)

BLOCKS = {"2d": BasicBlock, "p3d": BasicBlockP3D, "3d": BasicBlock3D}


class _ResNetLayers(nn.Module):
    def make_layer(self, block, planes, stride, blocks_num, mode):
        if max(stride) > 1 or self.inplanes != planes:
            if mode == "3d":
                down = nn.Sequential(nn.Conv3d(self.inplanes, planes, 1, stride=list(stride), bias=False),
                                     nn.BatchNorm3d(planes))
            elif mode == "2d":
                down = nn.Sequential(conv1x1(self.inplanes, planes, stride[0]), nn.BatchNorm2d(planes))
            else:
                down = nn.Sequential(nn.Conv3d(self.inplanes, planes, 1, stride=[1, *stride], bias=False),
                                     nn.BatchNorm3d(planes))
        else:
            down = None
        seq = [block(self.inplanes, planes, stride=stride, downsample=down)]
        self.inplanes = planes
        s = [1, 1] if mode in ("2d", "p3d") else [1, 1, 1]
        seq += [block(planes, planes, stride=s) for _ in range(1, blocks_num)]
        return nn.Sequential(*seq)

    def head(self, out4):
        feat = hpp(out4.max(2)[0], (16,))
        e1 = self.FCs(feat)
        e2, logits = self.BNNecks(e1)
        return {"embeddings": e2 if self.use_emb2 else e1, "logits": logits}


class DeepGaitV2(_ResNetLayers):
    def __init__(self, mode="p3d", in_channels=1, layers=(1, 1, 1, 1), channels=(64, 128, 256, 512), class_num=74,
                 use_emb2=False):
        super().__init__()
        block = BLOCKS[mode]
        strides = [[1, 1], [1, 2, 2], [1, 2, 2], [1, 1, 1]] if mode == "3d" else [[1, 1], [2, 2], [2, 2], [1, 1]]
        self.use_emb2 = use_emb2
        self.mode = mode
        self.inplanes = channels[0]
        self.layer0 = SetBlockWrapper(nn.Sequential(conv3x3(in_channels, channels[0]), nn.BatchNorm2d(channels[0]),
                                                    nn.ReLU(inplace=True)))
        self.layer1 = SetBlockWrapper(self.make_layer(BasicBlock, channels[0], strides[0], layers[0], mode))
        self.layer2 = self.make_layer(block, channels[1], strides[1], layers[1], mode)
        self.layer3 = self.make_layer(block, channels[2], strides[2], layers[2], mode)
        self.layer4 = self.make_layer(block, channels[3], strides[3], layers[3], mode)
        if mode == "2d":
            self.layer2, self.layer3, self.layer4 = (SetBlockWrapper(m) for m in (self.layer2, self.layer3, self.layer4))
        self.FCs = SeparateFCs(16, channels[3], channels[2])
        self.BNNecks = SeparateBNNecks(16, channels[2], class_num)

    def forward(self, x):
        x = x.unsqueeze(1) if x.dim() == 4 else x.transpose(1, 2).contiguous()
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.layer0(x)))))
        return self.head(out)


class AttentionFusion(nn.Module):
    def __init__(self, in_channels=64, squeeze_ratio=16):
        super().__init__()
        hid = int(in_channels / squeeze_ratio)
        self.conv = SetBlockWrapper(nn.Sequential(
            conv1x1(in_channels * 2, hid), nn.BatchNorm2d(hid), nn.ReLU(inplace=True),
            conv3x3(hid, hid), nn.BatchNorm2d(hid), nn.ReLU(inplace=True),
            conv1x1(hid, in_channels * 2)))

    def forward(self, sil, heat):
        n, c, s, h, w = sil.shape
        score = self.conv(torch.cat([sil, heat], 1)).reshape(n, 2, c, s, h, w)
        score = F.softmax(score, dim=1)
        return sil * score[:, 0] + heat * score[:, 1]


class SkeletonGaitPP(_ResNetLayers):
    def __init__(self, blocks=(1, 4, 4, 1), C=2, class_num=3000, use_emb2=False, squeeze_ratio=16):
        super().__init__()
        self.use_emb2 = use_emb2
        C1, C2, C4, C8 = (int(32 * C * m) for m in (1, 2, 4, 8))
        self.inplanes = C1

        def stem(cin):
            return SetBlockWrapper(nn.Sequential(conv3x3(cin, self.inplanes), nn.BatchNorm2d(self.inplanes),
                                                 nn.ReLU(inplace=True)))

        self.sil_layer0 = stem(1)
        self.map_layer0 = stem(2)
        self.sil_layer1 = SetBlockWrapper(self.make_layer(BasicBlock, C1, [1, 1], blocks[0], "2d"))
        self.map_layer1 = copy.deepcopy(self.sil_layer1)
        self.fusion = AttentionFusion(C1, squeeze_ratio)
        self.layer2 = self.make_layer(BasicBlockP3D, C2, [2, 2], blocks[1], "p3d")
        self.layer3 = self.make_layer(BasicBlockP3D, C4, [2, 2], blocks[2], "p3d")
        self.layer4 = self.make_layer(BasicBlockP3D, C8, [1, 1], blocks[3], "p3d")
        self.FCs = SeparateFCs(16, C8, C4)
        self.BNNecks = SeparateBNNecks(16, C4, class_num)

    def forward(self, x):  # [n, s, 3, h, w]: limb map, joint map, silhouette
        x = x.transpose(1, 2).contiguous()
        maps, sils = x[:, :2], x[:, 2:3]
        m = self.map_layer1(self.map_layer0(maps))
        s = self.sil_layer1(self.sil_layer0(sils))
        out = self.layer4(self.layer3(self.layer2(self.fusion(s, m))))
        return self.head(out)
