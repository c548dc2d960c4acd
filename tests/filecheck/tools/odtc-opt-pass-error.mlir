// A failing pass is one line on stderr and a non-zero exit status; the IR is not printed.

// RUN: not odtc-opt %s -p qtrain-fold-batchnorm 2>&1 | filecheck %s
// CHECK:       {{\A}}odtc-opt: error: qtrain-fold-batchnorm: cannot read the initial value of @w from does-not-exist.npz key 'w' (FileNotFoundError){{$}}
// CHECK-NOT:   {{.}}

qtrain.param @w frozen : tensor<2x1x1x1xf32> = #qtrain.npz<"does-not-exist.npz", "w">
qtrain.param @p frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
func.func @missing_npz(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %p = qtrain.load @p : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %z : tensor<1x2x2x2xf32>
}
