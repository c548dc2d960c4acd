"""A PyTorch CNN for 1x28x28 digits, compiled by odtc's PyTorch frontend.

    odtc compile examples/torch_cnn.py:model --config examples/train.toml --target cortex-m4 -o build/torch
    odtc train build/torch --data mnist
    odtc export build/torch --torch build/torch/trained.pt

    net = model(); net.load_state_dict(torch.load("build/torch/trained.pt"), strict=False)

Plain PyTorch: nothing here imports odtc. odtc calls `model()`, puts the module in eval mode
(BatchNorm uses its running statistics) and captures it with torch.export on an input of
shape INPUT_SHAPE (batch 1: the device trains one sample per step).
"""

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SHAPE = (1, 1, 28, 28)


class DigitNet(nn.Module):
    """conv-BN-ReLU6 stem, a depthwise-separable residual block, pooling, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)   # 28x28 -> 14x14
        self.bn1 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)        # depthwise
        self.pw = nn.Conv2d(8, 8, 1)                             # pointwise
        self.pool = nn.MaxPool2d(2)                              # 14x14 -> 7x7
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)   # 7x7 -> 4x4
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self.bn1(self.conv1(x)))
        h = F.relu(h + self.pw(F.relu(self.dw(h))))              # residual join
        h = self.pool(h)
        h = F.relu(self.conv2(h))
        return self.fc(torch.flatten(h, 1))


def model() -> nn.Module:
    torch.manual_seed(0)  # the same initial weights on every compile
    return DigitNet()
