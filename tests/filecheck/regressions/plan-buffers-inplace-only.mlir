// Regression test for a fixed bug: qtrain-plan-buffers decides a function "is not bufferized" when it has no
// qtrain.bytes and no qtrain.alias but some op with a result; a function whose only
// tensor-producing ops are loads read in place is exactly that after qtrain-bufferize, so
// the pipeline fails on it. Expected: an empty plan (arena 0), as for a function with no
// op at all.

// RUN: odtc-opt %s -p 'qtrain-bufferize,qtrain-plan-buffers' | filecheck %s --match-full-lines

qtrain.param @p trainable : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
func.func @forward(%x: tensor<1x4xf32>) -> tensor<4xf32> {
  %w = qtrain.load @p : tensor<4xf32>
  func.return %w : tensor<4xf32>
}
// CHECK:      builtin.module attributes {qtrain.arena_bytes = 0 : i64} {
// CHECK-NEXT:   qtrain.param @p trainable : tensor<4xf32> = dense<1.000000e+00> : tensor<4xf32>
// CHECK-NEXT:   func.func @forward(%x: tensor<1x4xf32>) -> tensor<4xf32> attributes {qtrain.arena_bytes = 0 : i64, qtrain.arena_lower_bound = 0 : i64} {
// CHECK-NEXT:     %w = qtrain.load @p : tensor<4xf32>
// CHECK-NEXT:     func.return %w : tensor<4xf32>
