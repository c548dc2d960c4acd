// RUN: rm -rf %t && mkdir -p %t
// RUN: python -c "import numpy as np; np.savez('%t/bn.npz', w=np.array([4, -2], np.float32).reshape(2, 1, 1, 1), b=np.array([1, 2], np.float32))"
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-fold-batchnorm{base-dir="%t"}' | filecheck %s
//
// Folded values are computed by hand below (f = gamma / sqrt(var + eps), w' = w * f per
// output channel, b' = (b - mean) * f + beta); the inputs are chosen so that every value is
// exact in f32 and the test does not depend on the pass's own arithmetic.

// Conv with bias, all params frozen: folded.
//   f  = [3 / sqrt(3 + 1), 0.5 / sqrt(0 + 1)] = [1.5, 0.5]
//   w' = [[1, 2] * 1.5, [3, 4] * 0.5]          = [[1.5, 3], [1.5, 2]]
//   b' = [(0.5 - 0.5) * 1.5 + 1, (-1 - 1) * 0.5 + 0] = [1, -1]
qtrain.param @w frozen : tensor<2x1x1x2xf32> = dense<[[[[1.0, 2.0]]], [[[3.0, 4.0]]]]> : tensor<2x1x1x2xf32>
qtrain.param @b frozen : tensor<2xf32> = dense<[0.5, -1.0]> : tensor<2xf32>
qtrain.param @g frozen : tensor<2xf32> = dense<[3.0, 0.5]> : tensor<2xf32>
qtrain.param @be frozen : tensor<2xf32> = dense<[1.0, 0.0]> : tensor<2xf32>
qtrain.param @m frozen : tensor<2xf32> = dense<[0.5, 1.0]> : tensor<2xf32>
qtrain.param @v frozen : tensor<2xf32> = dense<[3.0, 0.0]> : tensor<2xf32>
func.func @fold_with_bias(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x3xf32> {
  %w = qtrain.load @w : tensor<2x1x1x2xf32>
  %b = qtrain.load @b : tensor<2xf32>
  %g = qtrain.load @g : tensor<2xf32>
  %be = qtrain.load @be : tensor<2xf32>
  %m = qtrain.load @m : tensor<2xf32>
  %v = qtrain.load @v : tensor<2xf32>
  %y = qtrain.conv2d %x, %w, %b stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x4x4xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x4x3xf32>
  %z = qtrain.batchnorm %y, %g, %be, %m, %v epsilon 1.000000e+00 : (tensor<1x2x4x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x4x3xf32>
  func.return %z : tensor<1x2x4x3xf32>
}
// The old params are erased: nothing loads them any more.
// CHECK:       builtin.module {
// CHECK-NEXT:    qtrain.param @w_bnfold frozen : tensor<2x1x1x2xf32> = dense<{{\[\[\[\[}}1.500000e+00, 3.000000e+00]]], {{\[\[\[}}1.500000e+00, 2.000000e+00]]]]> : tensor<2x1x1x2xf32>
// CHECK-NEXT:    qtrain.param @b_bnfold frozen : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
// CHECK-NOT:     qtrain.param
// CHECK-LABEL:   func.func @fold_with_bias(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x3xf32> {
// CHECK-NEXT:      %[[W:.*]] = qtrain.load @w_bnfold : tensor<2x1x1x2xf32>
// CHECK-NEXT:      %[[B:.*]] = qtrain.load @b_bnfold : tensor<2xf32>
// CHECK-NEXT:      %[[Y:.*]] = qtrain.conv2d %x, %[[W]], %[[B]] stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x4x4xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x4x3xf32>
// CHECK-NOT:       qtrain.batchnorm
// CHECK-NEXT:      func.return %[[Y]] : tensor<1x2x4x3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// -----

// Conv without bias (bias taken as 0), splat inits for beta and var, stride/padding/groups
// carried over to the new conv.
//   f  = [1, 3] / sqrt(3 + 1)            = [0.5, 1.5]
//   w' = [2 * 0.5, -4 * 1.5]              = [1, -6]
//   b' = (0 - [1, -1]) * f + 0.25         = [-0.25, 1.75]
qtrain.param @w frozen : tensor<2x1x1x1xf32> = dense<[[[[2.0]]], [[[-4.0]]]]> : tensor<2x1x1x1xf32>
qtrain.param @g frozen : tensor<2xf32> = dense<[1.0, 3.0]> : tensor<2xf32>
qtrain.param @be frozen : tensor<2xf32> = dense<0.25> : tensor<2xf32>
qtrain.param @m frozen : tensor<2xf32> = dense<[1.0, -1.0]> : tensor<2xf32>
qtrain.param @v frozen : tensor<2xf32> = dense<3.0> : tensor<2xf32>
func.func @fold_no_bias(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x3x3xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %g = qtrain.load @g : tensor<2xf32>
  %be = qtrain.load @be : tensor<2xf32>
  %m = qtrain.load @m : tensor<2xf32>
  %v = qtrain.load @v : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [2, 2] padding [1, 1, 0, 0] groups 1 : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x3x3xf32>
  %z = qtrain.batchnorm %y, %g, %be, %m, %v epsilon 1.000000e+00 : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %z : tensor<1x2x3x3xf32>
}
// CHECK:       builtin.module {
// CHECK-NEXT:    qtrain.param @w_bnfold frozen : tensor<2x1x1x1xf32> = dense<{{\[\[\[\[}}1.000000e+00]]], {{\[\[\[}}-6.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    qtrain.param @w_bnfold_b frozen : tensor<2xf32> = dense<[-2.500000e-01, 1.750000e+00]> : tensor<2xf32>
// CHECK-NOT:     qtrain.param
// CHECK-LABEL:   func.func @fold_no_bias(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x3x3xf32> {
// CHECK-NEXT:      %[[W:.*]] = qtrain.load @w_bnfold : tensor<2x1x1x1xf32>
// CHECK-NEXT:      %[[B:.*]] = qtrain.load @w_bnfold_b : tensor<2xf32>
// CHECK-NEXT:      %[[Y:.*]] = qtrain.conv2d %x, %[[W]], %[[B]] stride [2, 2] padding [1, 1, 0, 0] groups 1 : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NOT:       qtrain.batchnorm
// CHECK-NEXT:      func.return %[[Y]] : tensor<1x2x3x3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// -----

// Initial values read from an .npz file (written by the RUN line above) relative to base-dir.
//   f  = [1, 1] / sqrt(0 + 0.25) = [2, 2]
//   w' = [4, -2] * 2             = [8, -4]
//   b' = ([1, 2] - 0) * 2 + 0    = [2, 4]
qtrain.param @w frozen : tensor<2x1x1x1xf32> = #qtrain.npz<"bn.npz", "w">
qtrain.param @b frozen : tensor<2xf32> = #qtrain.npz<"bn.npz", "b">
qtrain.param @g frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
qtrain.param @z frozen : tensor<2xf32> = dense<0.0> : tensor<2xf32>
func.func @fold_npz(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %b = qtrain.load @b : tensor<2xf32>
  %g = qtrain.load @g : tensor<2xf32>
  %z = qtrain.load @z : tensor<2xf32>
  %y = qtrain.conv2d %x, %w, %b stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %n = qtrain.batchnorm %y, %g, %z, %z, %z epsilon 2.500000e-01 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %n : tensor<1x2x2x2xf32>
}
// CHECK:       builtin.module {
// CHECK-NEXT:    qtrain.param @w_bnfold frozen : tensor<2x1x1x1xf32> = dense<{{\[\[\[\[}}8.000000e+00]]], {{\[\[\[}}-4.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    qtrain.param @b_bnfold frozen : tensor<2xf32> = dense<[2.000000e+00, 4.000000e+00]> : tensor<2xf32>
// CHECK-NOT:     qtrain.param
// CHECK-LABEL:   func.func @fold_npz(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
// CHECK-NEXT:      %[[W:.*]] = qtrain.load @w_bnfold : tensor<2x1x1x1xf32>
// CHECK-NEXT:      %[[B:.*]] = qtrain.load @b_bnfold : tensor<2xf32>
// CHECK-NEXT:      %[[Y:.*]] = qtrain.conv2d %x, %[[W]], %[[B]] stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NOT:       qtrain.batchnorm
// CHECK-NEXT:      func.return %[[Y]] : tensor<1x2x2x2xf32>

// -----

// The weight is also loaded elsewhere, so @w survives; a param named @w_bnfold already
// exists, so the folded weight gets a fresh name. The batch-norm params go.
//   f = 1 / sqrt(0 + 1) = 1;  w' = 2;  b' = (0 - 1) * 1 + 0.5 = -0.5
qtrain.param @w_bnfold trainable : tensor<1xf32> = dense<7.0> : tensor<1xf32>
qtrain.param @w frozen : tensor<1x1x1x1xf32> = dense<2.0> : tensor<1x1x1x1xf32>
qtrain.param @g frozen : tensor<1xf32> = dense<1.0> : tensor<1xf32>
qtrain.param @be frozen : tensor<1xf32> = dense<0.5> : tensor<1xf32>
qtrain.param @m frozen : tensor<1xf32> = dense<1.0> : tensor<1xf32>
qtrain.param @v frozen : tensor<1xf32> = dense<0.0> : tensor<1xf32>
func.func @fold_shared(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32> {
  %w = qtrain.load @w : tensor<1x1x1x1xf32>
  %g = qtrain.load @g : tensor<1xf32>
  %be = qtrain.load @be : tensor<1xf32>
  %m = qtrain.load @m : tensor<1xf32>
  %v = qtrain.load @v : tensor<1xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x2x2xf32>
  %z = qtrain.batchnorm %y, %g, %be, %m, %v epsilon 1.000000e+00 : (tensor<1x1x2x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x2x2xf32>
  func.return %z : tensor<1x1x2x2xf32>
}
func.func @other() -> tensor<1x1x1x1xf32> {
  %w = qtrain.load @w : tensor<1x1x1x1xf32>
  func.return %w : tensor<1x1x1x1xf32>
}
// CHECK:       builtin.module {
// CHECK-NEXT:    qtrain.param @w_bnfold trainable : tensor<1xf32> = dense<7.000000e+00> : tensor<1xf32>
// CHECK-NEXT:    qtrain.param @w frozen : tensor<1x1x1x1xf32> = dense<2.000000e+00> : tensor<1x1x1x1xf32>
// CHECK-NEXT:    qtrain.param @w_bnfold_1 frozen : tensor<1x1x1x1xf32> = dense<2.000000e+00> : tensor<1x1x1x1xf32>
// CHECK-NEXT:    qtrain.param @w_bnfold_b frozen : tensor<1xf32> = dense<-5.000000e-01> : tensor<1xf32>
// CHECK-NOT:     qtrain.param
// CHECK-LABEL:   func.func @fold_shared(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32> {
// CHECK-NEXT:      %[[W:.*]] = qtrain.load @w_bnfold_1 : tensor<1x1x1x1xf32>
// CHECK-NEXT:      %[[B:.*]] = qtrain.load @w_bnfold_b : tensor<1xf32>
// CHECK-NEXT:      %[[Y:.*]] = qtrain.conv2d %x, %[[W]], %[[B]] stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x1x2x2xf32>
// CHECK-NEXT:      func.return %[[Y]] : tensor<1x1x2x2xf32>
// CHECK-NEXT:    }
// CHECK-LABEL:   func.func @other() -> tensor<1x1x1x1xf32> {
// CHECK-NEXT:      %w = qtrain.load @w : tensor<1x1x1x1xf32>
// CHECK-NEXT:      func.return %w : tensor<1x1x1x1xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// -----

// gamma is trainable: the batch norm must stay (its gamma is trained), nothing changes.
qtrain.param @w frozen : tensor<2x1x1x1xf32> = dense<1.0> : tensor<2x1x1x1xf32>
qtrain.param @g trainable : tensor<2xf32> = dense<1.0> : tensor<2xf32>
qtrain.param @p frozen : tensor<2xf32> = dense<0.0> : tensor<2xf32>
func.func @keep_trainable(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %g = qtrain.load @g : tensor<2xf32>
  %p = qtrain.load @p : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %z = qtrain.batchnorm %y, %g, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %z : tensor<1x2x2x2xf32>
}
// CHECK:       builtin.module {
// CHECK-NEXT:    qtrain.param @w frozen : tensor<2x1x1x1xf32> = dense<1.000000e+00> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    qtrain.param @g trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
// CHECK-NEXT:    qtrain.param @p frozen : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
// CHECK-LABEL:   func.func @keep_trainable(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
// CHECK-NEXT:      %w = qtrain.load @w : tensor<2x1x1x1xf32>
// CHECK-NEXT:      %g = qtrain.load @g : tensor<2xf32>
// CHECK-NEXT:      %p = qtrain.load @p : tensor<2xf32>
// CHECK-NEXT:      %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      %z = qtrain.batchnorm %y, %g, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      func.return %z : tensor<1x2x2x2xf32>

// -----

// A trainable conv weight also blocks the fold.
qtrain.param @w trainable : tensor<2x1x1x1xf32> = dense<1.0> : tensor<2x1x1x1xf32>
qtrain.param @p frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
func.func @keep_trainable_weight(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %p = qtrain.load @p : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %z : tensor<1x2x2x2xf32>
}
// CHECK-LABEL:   func.func @keep_trainable_weight(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
// CHECK:           %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>

// -----

// The conv output is used twice (batch norm and return): folding would change the other
// use, so nothing changes.
qtrain.param @w frozen : tensor<2x1x1x1xf32> = dense<1.0> : tensor<2x1x1x1xf32>
qtrain.param @p frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
func.func @keep_two_uses(%x: tensor<1x1x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %p = qtrain.load @p : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %y, %z : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}
// CHECK:       builtin.module {
// CHECK-NEXT:    qtrain.param @w frozen : tensor<2x1x1x1xf32> = dense<1.000000e+00> : tensor<2x1x1x1xf32>
// CHECK-NEXT:    qtrain.param @p frozen : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
// CHECK-LABEL:   func.func @keep_two_uses(%x: tensor<1x1x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
// CHECK-NEXT:      %w = qtrain.load @w : tensor<2x1x1x1xf32>
// CHECK-NEXT:      %p = qtrain.load @p : tensor<2xf32>
// CHECK-NEXT:      %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
// CHECK-NEXT:      func.return %y, %z : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>

// -----

// A batch norm fed by something other than a conv2d is left alone.
qtrain.param @p frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
func.func @keep_not_conv(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %p = qtrain.load @p : tensor<2xf32>
  %z = qtrain.batchnorm %x, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %z : tensor<1x2xf32>
}
// CHECK-LABEL:   func.func @keep_not_conv(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
// CHECK-NEXT:      %p = qtrain.load @p : tensor<2xf32>
// CHECK-NEXT:      %z = qtrain.batchnorm %x, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2xf32>

// -----

// The pass reads every initial value it folds; a missing .npz file is a pass failure with a
// one-line message (printed by --verify-diagnostics), not a traceback.
qtrain.param @w frozen : tensor<2x1x1x1xf32> = #qtrain.npz<"does-not-exist.npz", "w">
qtrain.param @p frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
func.func @missing_npz(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %p = qtrain.load @p : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %z : tensor<1x2x2x2xf32>
}
// CHECK:       {{^}}qtrain-fold-batchnorm: cannot read the initial value of @w from {{.*}}/does-not-exist.npz key 'w' (FileNotFoundError){{$}}

// -----

// A key missing from an existing .npz file fails the same way.
qtrain.param @w frozen : tensor<2x1x1x1xf32> = #qtrain.npz<"bn.npz", "nokey">
qtrain.param @p frozen : tensor<2xf32> = dense<1.0> : tensor<2xf32>
func.func @missing_key(%x: tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = qtrain.load @w : tensor<2x1x1x1xf32>
  %p = qtrain.load @p : tensor<2xf32>
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x2x2xf32>
  %z = qtrain.batchnorm %y, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %z : tensor<1x2x2x2xf32>
}
// CHECK:       {{^}}qtrain-fold-batchnorm: cannot read the initial value of @w from {{.*}}/bn.npz key 'nokey' (KeyError){{$}}
