// Regression test for a fixed bug: qtrain.batchnorm_grad_input / batchnorm_grad_gamma check shapes only:
// non-f32 gamma/var/mean/input/result and epsilon <= 0 verify, while qtrain.batchnorm
// rejects the same operands ("must have element type f32", "epsilon must be positive").
// mlir).

// RUN: odtc-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

func.func @grad_input_gamma_i32(%dy: tensor<1x8x4x4xf32>, %g: tensor<8xi32>, %v: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %dx = qtrain.batchnorm_grad_input %dy, %g, %v epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xi32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %dx : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.batchnorm_grad_input: gamma must have element type f32, got i32

// -----

func.func @grad_input_epsilon(%dy: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %dx = qtrain.batchnorm_grad_input %dy, %p, %p epsilon 0.000000e+00 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %dx : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.batchnorm_grad_input: epsilon must be positive, got 0.0

// -----

func.func @grad_gamma_input_f16(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x4x4xf16>, %p: tensor<8xf32>) -> tensor<8xf32> {
  %dg = qtrain.batchnorm_grad_gamma %dy, %x, %p, %p epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf16>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  func.return %dg : tensor<8xf32>
}
// CHECK: qtrain.batchnorm_grad_gamma: input must have element type f32, got f16
