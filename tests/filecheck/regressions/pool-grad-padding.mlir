// Regression test for a fixed bug: qtrain.maxpool2d_grad / avgpool2d_grad accept padding >= kernel, which
// qtrain.maxpool2d / avgpool2d reject ("padding [...] must be smaller than kernel [...]"), so a
// backward op can describe a pool no forward op can. mlir).

// RUN: odtc-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

func.func @maxpool_grad_padding(%dy: tensor<1x8x5x5xf32>, %x: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %dx = qtrain.maxpool2d_grad %dy, %x kernel [2, 2] stride [1, 1] padding [2, 2, 0, 0] : (tensor<1x8x5x5xf32>, tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
  func.return %dx : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.maxpool2d_grad: padding [2, 2, 0, 0] must be smaller than kernel [2, 2]

// -----

func.func @avgpool_grad_padding(%dy: tensor<1x8x5x5xf32>) -> tensor<1x8x4x4xf32> {
  %dx = qtrain.avgpool2d_grad %dy kernel [2, 2] stride [1, 1] padding [2, 2, 0, 0] : (tensor<1x8x5x5xf32>) -> tensor<1x8x4x4xf32>
  func.return %dx : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.avgpool2d_grad: padding [2, 2, 0, 0] must be smaller than kernel [2, 2]
