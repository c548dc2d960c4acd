// qtrain-pack-masks: fc1's relu6 output %a is read by fc2's forward and, in the backward,
// only by its own qrelu6_grad (fc2's weight is frozen: no grad-weight reads %a). With
// all=true the mask is packed right after the forward computes %a (qrelu_mask with the
// output scale: relu6's upper edge) and the backward reads the 1-byte mask (qmask_grad)
// instead of the 3-byte output; the saved-activation annotation shrinks accordingly. By
// default the pass packs only where the scheduled peak goes down; here it does (the output
// and its scale and zero-point leave the backward), so DEFAULT packs too. (A case where it
// does not, the u8 VAE, is tests/pytest/test_quantized_mobilenet.py::test_pack_masks_judged.)
//
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{rounding=nearest},qtrain-pack-masks{all=true}' | filecheck %s
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-autodiff,qtrain-prune-frozen-backward,qtrain-quantize{rounding=nearest},qtrain-pack-masks' | filecheck %s --check-prefix=DEFAULT
// RUN: odtc-opt %s --split-input-file --verify-diagnostics -p 'qtrain-pack-masks' | filecheck %s --check-prefix=ALONE

// ALONE: qtrain-pack-masks: no @train_step: run qtrain-autodiff and qtrain-quantize first

qtrain.param @fc1.weight trainable : tensor<3x4xf32> = dense<[[0.5, -0.25, 0.125, 1.0], [-0.5, 0.75, 0.0, 0.25], [0.1, 0.2, -0.3, 0.4]]> : tensor<3x4xf32>
qtrain.param @fc2.weight frozen : tensor<2x3xf32> = dense<[[1.0, -1.0, 0.5], [-0.5, 0.5, 1.0]]> : tensor<2x3xf32>
func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w1 = qtrain.load @fc1.weight : tensor<3x4xf32>
  %h = qtrain.dense %x, %w1 : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
  %a = qtrain.relu6 %h : tensor<1x3xf32>
  %w2 = qtrain.load @fc2.weight : tensor<2x3xf32>
  %y = qtrain.dense %a, %w2 : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// CHECK-LABEL: func.func @train_step
// (35 B saved without masks: the 3-byte output and its 4-byte scale and zero-point leave
// the backward, the 1-byte mask enters)
// CHECK-SAME:  qtrain.saved_activation_bytes = 25
// CHECK:       %[[Y:[0-9]+]] = qtrain.requantize_acc %{{[0-9]+}}[%{{[0-9]+}}] -> [%[[S:[0-9]+]], %[[Z:[0-9]+]]] : ({{.*}}) -> tensor<1x3x!qtrain.q<ui8, asym>>
// CHECK-NEXT:  %[[M:[0-9]+]] = qtrain.qrelu_mask %[[Y]][%[[Z]]] scale %[[S]] {qtrain.saved_bytes = 1 : i64} : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<f32>) -> tensor<1xui8>
// CHECK:       "qtrain.qdense_acc"(%[[Y]],
// CHECK:       %[[E:[0-9]+]] = qtrain.requantize_acc {{.*}} -> tensor<1x3x!qtrain.q<si8, asym>>
// CHECK-NEXT:  %{{[0-9]+}} = qtrain.qmask_grad %[[E]][%{{[0-9]+}}], %[[M]] : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<1xui8>) -> tensor<1x3x!qtrain.q<si8, asym>>
// CHECK-NOT:   qtrain.qrelu6_grad
// CHECK:       func.return

// DEFAULT-LABEL: func.func @train_step
// DEFAULT:       qtrain.qrelu_mask
// DEFAULT:       qtrain.qmask_grad
// DEFAULT-NOT:   qtrain.qrelu6_grad
// DEFAULT:       func.return

// -----

// relu: the mask has no scale (bit = y > zy); 12 elements take 2 bytes.
qtrain.param @c.weight trainable : tensor<3x1x1x1xf32> = dense<[[[[0.5]]], [[[-0.25]]], [[[1.0]]]]> : tensor<3x1x1x1xf32>
qtrain.param @fc.weight frozen : tensor<2x12xf32> = dense<0.25> : tensor<2x12xf32>
func.func @forward(%x: tensor<1x1x2x2xf32>) -> tensor<1x2xf32> {
  %w = qtrain.load @c.weight : tensor<3x1x1x1xf32>
  %h = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x1x2x2xf32>, tensor<3x1x1x1xf32>) -> tensor<1x3x2x2xf32>
  %a = qtrain.relu %h : tensor<1x3x2x2xf32>
  %f = qtrain.flatten %a axis 1 : tensor<1x3x2x2xf32> -> tensor<1x12xf32>
  %wf = qtrain.load @fc.weight : tensor<2x12xf32>
  %y = qtrain.dense %f, %wf : (tensor<1x12xf32>, tensor<2x12xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// CHECK-LABEL: func.func @train_step
// CHECK:       %[[Y2:[0-9]+]] = qtrain.requantize_acc
// CHECK-NEXT:  %[[M2:[0-9]+]] = qtrain.qrelu_mask %[[Y2]][%{{[0-9]+}}] {qtrain.saved_bytes = 2 : i64} : (tensor<1x3x2x2x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<2xui8>
// CHECK:       qtrain.qmask_grad %{{[0-9]+}}[%{{[0-9]+}}], %[[M2]] : (tensor<1x3x2x2x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2xui8>) -> tensor<1x3x2x2x!qtrain.q<si8, asym>>
// CHECK-NOT:   qtrain.qrelu_grad
