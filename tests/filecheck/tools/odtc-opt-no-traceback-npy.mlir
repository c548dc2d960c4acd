// Regression: an #qtrain.npz init that names a .npy file (np.load returns an array, not an
// archive) used to make qtrain-fold-batchnorm die with an IndexError traceback. It is now the
// one-line "cannot read the initial value" error; the exception class it names in
// parentheses is an implementation detail, so any name is accepted.

// RUN: rm -rf %t && mkdir -p %t
// RUN: python -c "import numpy as np; np.save('%t/w.npy', np.ones((2, 1, 1, 1), np.float32))"
// RUN: not odtc-opt %s -p 'qtrain-fold-batchnorm{base-dir="%t"}' 2>&1 | filecheck %s
// CHECK:      {{\A}}odtc-opt: error: qtrain-fold-batchnorm: cannot read the initial value of @w from {{.*}}w.npy key 'w' ({{[A-Za-z]+}}){{$}}
// CHECK-NOT:  {{.}}

qtrain.param @w frozen : tensor<2x1x1x1xf32> = #qtrain.npz<"w.npy", "w">
qtrain.param @p frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
func.func @npy(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %p = qtrain.load @p : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %z : tensor<1x2x2x2xf32>
}
