"""MobileNetV2-w0.35 at 128x128, 10 classes, as the Tiny Training Engine trains it
(REFERENCES.md §3; compiler/builder.py mobilenetv2_w035 has the layer table and the conv
numbering conv0..conv50).

`odtc compile examples/mobilenetv2.py:model --config examples/mobilenetv2_tte_sparse.toml -o build/mbv2`
"""

from xdsl.dialects.builtin import ModuleOp

from odtc.compiler.builder import mobilenetv2_w035


def model() -> ModuleOp:
    return mobilenetv2_w035(num_classes=10, resolution=128, seed=0)
