// Regression test for a fixed bug: qtrain.param accepts a `channels` list that is unsorted, has duplicates
// or is empty, but the ops qtrain-autodiff derives from it (conv2d_grad_weight,
// dense_grad_weight, the update ops) require "a non-empty increasing list". So valid-looking
// input makes the pass produce IR that fails verification, and the user gets an error about
// an op they never wrote (`qtrain.dense_grad_weight: channels must be ...`). The param's
// verifier should apply the same rule. 

// RUN: not odtc-opt %s -p qtrain-autodiff 2>&1 | filecheck %s
// CHECK:      {{\A}}odtc-opt: error: qtrain.param: @w: {{.*$}}
// CHECK-NOT:  {{.}}

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e-01> : tensor<4x3xf32> {channels = array<i64: 2, 0>}
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x4xf32> {
  %w = qtrain.load @w : tensor<4x3xf32>
  %y = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<4x3xf32>) -> tensor<1x4xf32>
  func.return %y : tensor<1x4xf32>
}
