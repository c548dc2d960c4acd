"""The demo model: a small CNN for 28x28 digits, built with odtc's builder API.

`odtc compile examples/mnist_cnn.py:model --config examples/train.toml -o build/demo`
"""

from xdsl.dialects.builtin import ModuleOp

from odtc.compiler.builder import Conv2d, Dense, Flatten, ReLU, Sequential


def model() -> ModuleOp:
    return Sequential(
        (1, 1, 28, 28),
        [
            Conv2d(8, 3, stride=2, padding=1, name="conv1"), ReLU(),
            Conv2d(16, 3, stride=2, padding=1, name="conv2"), ReLU(),
            Flatten(),
            Dense(32, name="fc1"), ReLU(),
            Dense(10, name="fc2"),
        ],
        seed=0,
    ).build()
