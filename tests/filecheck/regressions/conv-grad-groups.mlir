// Regression test for a fixed bug: qtrain.conv2d_grad_input and qtrain.conv2d_grad_weight do not check
// `groups` the way qtrain.conv2d does ("groups must be >= 1", "groups G must divide input
// channels C and output channels O"): both cases below verify. mlir).

// RUN: odtc-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

// groups 0 with a 0-channel result: I * groups == C holds trivially.
func.func @grad_input_groups_zero(%dy: tensor<1x3x6x6xf32>, %w: tensor<3x2x3x3xf32>) -> tensor<1x0x8x8xf32> {
  %dx = qtrain.conv2d_grad_input %dy, %w stride [1, 1] padding [0, 0, 0, 0] groups 0 : (tensor<1x3x6x6xf32>, tensor<3x2x3x3xf32>) -> tensor<1x0x8x8xf32>
  func.return %dx : tensor<1x0x8x8xf32>
}
// CHECK: qtrain.conv2d_grad_input: groups must be >= 1, got 0

// -----

// 2 groups cannot split 3 output channels.
func.func @grad_weight_groups(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x3x6x6xf32>) -> tensor<3x2x3x3xf32> {
  %dw = qtrain.conv2d_grad_weight %x, %dy stride [1, 1] padding [0, 0, 0, 0] groups 2 : (tensor<1x4x8x8xf32>, tensor<1x3x6x6xf32>) -> tensor<3x2x3x3xf32>
  func.return %dw : tensor<3x2x3x3xf32>
}
// CHECK: qtrain.conv2d_grad_weight: groups 2 must divide input channels 4 and output channels 3
