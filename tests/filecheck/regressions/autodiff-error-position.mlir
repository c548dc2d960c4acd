// Regression test for a fixed bug: qtrain-autodiff names an op without a derivative as "op #N of @?"
// instead of "op #N of @forward": `_where` (passes/autodiff.py) is called on the op's clone,
// whose block is not inside a func.func yet, so `parent_op()` is None. mlir.

// RUN: not odtc-opt %s -p qtrain-autodiff 2>&1 | filecheck %s
// CHECK:      {{\A}}odtc-opt: error: qtrain-autodiff: qtrain.dequantize (op #3 of @forward) has no derivative; {{.*$}}
// CHECK-NOT:  {{.}}

qtrain.state @s : tensor<f32> = dense<1.000000e+00> : tensor<f32>
qtrain.state @z : tensor<i32> = dense<0> : tensor<i32>
qtrain.param @w trainable : tensor<2x3xf32> = dense<1.000000e+00> : tensor<2x3xf32>
func.func @forward(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
  %s = qtrain.load @s : tensor<f32>
  %z = qtrain.load @z : tensor<i32>
  %q = qtrain.quantize %x, %s, %z : (tensor<1x3xf32>, tensor<f32>, tensor<i32>) -> tensor<1x3x!qtrain.q<si8, sym>>
  %d = qtrain.dequantize %q, %s, %z : (tensor<1x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>) -> tensor<1x3xf32>
  %w = qtrain.load @w : tensor<2x3xf32>
  %y = qtrain.dense %d, %w : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
