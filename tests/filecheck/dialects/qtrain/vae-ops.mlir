// Round trip of every variational-autoencoder qtrain op (VAE_OPS in dialects/qtrain_vae.py):
// custom syntax -> custom syntax, and generic syntax -> custom syntax. Every CHECK is a
// whole printed line, so a printer or parser that drops or changes an operand, a property,
// an optional operand (conv_transpose2d's bias, reparameterize's step, the bias group of
// qconv_transpose2d_acc) or a discardable attribute fails the test.
// RUN: odtc-opt %s | odtc-opt | filecheck %s --match-full-lines
// RUN: odtc-opt %s --print-op-generic | odtc-opt | filecheck %s --match-full-lines
// The generic form itself also parses back to the same generic form.
// RUN: odtc-opt %s --print-op-generic | odtc-opt --print-op-generic | filecheck %s --check-prefix=GENERIC --match-full-lines

// CHECK: builtin.module {
// GENERIC: "builtin.module"() ({

// ---- forward: conv_transpose2d (with and without bias), sigmoid, exp, reparameterize ---------
// (the training form with `step` and the inference form without it)
func.func @forward(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>, %mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>) -> (tensor<1x4x6x6xf32>, tensor<1x4x7x4xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>) {
  %y = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  %y0 = qtrain.conv_transpose2d %x, %w stride [2, 1] padding [1, 0, 0, 1] output_padding [1, 0] {tag} : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>) -> tensor<1x4x7x4xf32>
  %p = qtrain.sigmoid %y : tensor<1x4x6x6xf32>
  %e = qtrain.exp %lv {tag} : tensor<1x5xf32>
  %z = qtrain.reparameterize %mu, %lv step %s seed 42 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
  %zi = qtrain.reparameterize %mu, %lv seed 0 {tag} : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<1x5xf32>
  func.return %p, %y0, %e, %z, %zi : tensor<1x4x6x6xf32>, tensor<1x4x7x4xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>
}
// CHECK-LABEL:   func.func @forward(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>, %mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>) -> (tensor<1x4x6x6xf32>, tensor<1x4x7x4xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>) {
// CHECK-NEXT:      %y = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
// CHECK-NEXT:      %y0 = qtrain.conv_transpose2d %x, %w stride [2, 1] padding [1, 0, 0, 1] output_padding [1, 0] {tag} : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>) -> tensor<1x4x7x4xf32>
// CHECK-NEXT:      %p = qtrain.sigmoid %y : tensor<1x4x6x6xf32>
// CHECK-NEXT:      %e = qtrain.exp %lv {tag} : tensor<1x5xf32>
// CHECK-NEXT:      %z = qtrain.reparameterize %mu, %lv step %s seed 42 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
// CHECK-NEXT:      %zi = qtrain.reparameterize %mu, %lv seed 0 {tag} : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<1x5xf32>
// CHECK-NEXT:      func.return %p, %y0, %e, %z, %zi : tensor<1x4x6x6xf32>, tensor<1x4x7x4xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>
// CHECK-NEXT:    }

// GENERIC:      %y = "qtrain.conv_transpose2d"(%x, %w, %b) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>}> : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
// GENERIC-NEXT: %y0 = "qtrain.conv_transpose2d"(%x, %w) <{stride = array<i64: 2, 1>, padding = array<i64: 1, 0, 0, 1>, output_padding = array<i64: 1, 0>}> {tag} : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>) -> tensor<1x4x7x4xf32>
// GENERIC-NEXT: %p = "qtrain.sigmoid"(%y) : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32>
// GENERIC-NEXT: %e = "qtrain.exp"(%lv) {tag} : (tensor<1x5xf32>) -> tensor<1x5xf32>
// GENERIC-NEXT: %z = "qtrain.reparameterize"(%mu, %lv, %s) <{seed = 42 : i64}> : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
// GENERIC-NEXT: %zi = "qtrain.reparameterize"(%mu, %lv) <{seed = 0 : i64}> {tag} : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<1x5xf32>

// ---- losses: kl_divergence, sigmoid_bce ---------------------------------------------------
// beta is an f64 property: the custom syntax prints it without a type.
func.func @losses(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xf32>) -> (tensor<f32>, tensor<f32>, tensor<f32>) {
  %kl = qtrain.kl_divergence %mu, %lv beta 1.000000e+00 : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
  %kl2 = qtrain.kl_divergence %mu, %lv beta 2.500000e-01 {tag} : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
  %bce = qtrain.sigmoid_bce %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<f32>
  func.return %kl, %kl2, %bce : tensor<f32>, tensor<f32>, tensor<f32>
}
// CHECK-LABEL:   func.func @losses(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xf32>) -> (tensor<f32>, tensor<f32>, tensor<f32>) {
// CHECK-NEXT:      %kl = qtrain.kl_divergence %mu, %lv beta 1.000000e+00 : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
// CHECK-NEXT:      %kl2 = qtrain.kl_divergence %mu, %lv beta 2.500000e-01 {tag} : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
// CHECK-NEXT:      %bce = qtrain.sigmoid_bce %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<f32>
// CHECK-NEXT:      func.return %kl, %kl2, %bce : tensor<f32>, tensor<f32>, tensor<f32>
// CHECK-NEXT:    }

// GENERIC:      %kl = "qtrain.kl_divergence"(%mu, %lv) <{beta = 1.000000e+00 : f64}> : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
// GENERIC-NEXT: %kl2 = "qtrain.kl_divergence"(%mu, %lv) <{beta = 2.500000e-01 : f64}> {tag} : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
// GENERIC-NEXT: %bce = "qtrain.sigmoid_bce"(%l, %t) : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<f32>

// ---- backward: conv_transpose2d_grad_input, sigmoid_grad, exp_grad, ---------------------------
// ---- reparameterize_grad_logvar, kl_divergence_grad_mu/logvar, sigmoid_bce_grad --------------
func.func @backward(%dy: tensor<1x4x6x6xf32>, %dy0: tensor<1x4x7x4xf32>, %w: tensor<2x4x3x3xf32>, %p: tensor<1x4x6x6xf32>, %dz: tensor<1x5xf32>, %e: tensor<1x5xf32>, %mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>, %l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x4x6x6xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x1x4x4xf32>) {
  %dx = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
  %dx0 = qtrain.conv_transpose2d_grad_input %dy0, %w stride [2, 1] padding [1, 0, 0, 1] output_padding [1, 0] {tag} : (tensor<1x4x7x4xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
  %dl = qtrain.sigmoid_grad %dy, %p : tensor<1x4x6x6xf32>
  %de = qtrain.exp_grad %dz, %e {tag} : tensor<1x5xf32>
  %dlv = qtrain.reparameterize_grad_logvar %dz, %lv step %s seed 42 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
  %kmu = qtrain.kl_divergence_grad_mu %mu beta 5.000000e-01 : tensor<1x5xf32>
  %klv = qtrain.kl_divergence_grad_logvar %lv beta 2.000000e+00 {tag} : tensor<1x5xf32>
  %dt = qtrain.sigmoid_bce_grad %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
  func.return %dx, %dx0, %dl, %de, %dlv, %kmu, %klv, %dt : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x4x6x6xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x1x4x4xf32>
}
// CHECK-LABEL:   func.func @backward(%dy: tensor<1x4x6x6xf32>, %dy0: tensor<1x4x7x4xf32>, %w: tensor<2x4x3x3xf32>, %p: tensor<1x4x6x6xf32>, %dz: tensor<1x5xf32>, %e: tensor<1x5xf32>, %mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>, %l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x4x6x6xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x1x4x4xf32>) {
// CHECK-NEXT:      %dx = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %dx0 = qtrain.conv_transpose2d_grad_input %dy0, %w stride [2, 1] padding [1, 0, 0, 1] output_padding [1, 0] {tag} : (tensor<1x4x7x4xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:      %dl = qtrain.sigmoid_grad %dy, %p : tensor<1x4x6x6xf32>
// CHECK-NEXT:      %de = qtrain.exp_grad %dz, %e {tag} : tensor<1x5xf32>
// CHECK-NEXT:      %dlv = qtrain.reparameterize_grad_logvar %dz, %lv step %s seed 42 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
// CHECK-NEXT:      %kmu = qtrain.kl_divergence_grad_mu %mu beta 5.000000e-01 : tensor<1x5xf32>
// CHECK-NEXT:      %klv = qtrain.kl_divergence_grad_logvar %lv beta 2.000000e+00 {tag} : tensor<1x5xf32>
// CHECK-NEXT:      %dt = qtrain.sigmoid_bce_grad %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>
// CHECK-NEXT:      func.return %dx, %dx0, %dl, %de, %dlv, %kmu, %klv, %dt : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x4x6x6xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x5xf32>, tensor<1x1x4x4xf32>
// CHECK-NEXT:    }

// GENERIC:      %dx = "qtrain.conv_transpose2d_grad_input"(%dy, %w) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>}> : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
// GENERIC-NEXT: %dx0 = "qtrain.conv_transpose2d_grad_input"(%dy0, %w) <{stride = array<i64: 2, 1>, padding = array<i64: 1, 0, 0, 1>, output_padding = array<i64: 1, 0>}> {tag} : (tensor<1x4x7x4xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
// GENERIC-NEXT: %dl = "qtrain.sigmoid_grad"(%dy, %p) : (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32>
// GENERIC-NEXT: %de = "qtrain.exp_grad"(%dz, %e) {tag} : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<1x5xf32>
// GENERIC-NEXT: %dlv = "qtrain.reparameterize_grad_logvar"(%dz, %lv, %s) <{seed = 42 : i64}> : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
// GENERIC-NEXT: %kmu = "qtrain.kl_divergence_grad_mu"(%mu) <{beta = 5.000000e-01 : f64}> : (tensor<1x5xf32>) -> tensor<1x5xf32>
// GENERIC-NEXT: %klv = "qtrain.kl_divergence_grad_logvar"(%lv) <{beta = 2.000000e+00 : f64}> {tag} : (tensor<1x5xf32>) -> tensor<1x5xf32>
// GENERIC-NEXT: %dt = "qtrain.sigmoid_bce_grad"(%l, %t) : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32>

// ---- quantized: qconv_transpose2d_acc (with and without bias), qconv_transpose2d_grad_weight ---
// qconv_transpose2d_acc has several optional operands and no custom syntax: it prints in
// generic form even without --print-op-generic.
func.func @quantized(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %b: tensor<4xf32>, %sa: tensor<f32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> (tensor<1x4x6x6x!qtrain.q<si32, sym>>, tensor<1x4x7x4x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>) {
  %a = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw, %b, %sa) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  %a0 = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 1>, padding = array<i64: 1, 0, 0, 1>, output_padding = array<i64: 1, 0>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x7x4x!qtrain.q<si32, sym>>
  %g = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  %g1 = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [0, 0, 1, 1] {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %a, %a0, %g, %g1 : tensor<1x4x6x6x!qtrain.q<si32, sym>>, tensor<1x4x7x4x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK-LABEL:   func.func @quantized(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %b: tensor<4xf32>, %sa: tensor<f32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> (tensor<1x4x6x6x!qtrain.q<si32, sym>>, tensor<1x4x7x4x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>) {
// CHECK-NEXT:      %a = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw, %b, %sa) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %a0 = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 1>, padding = array<i64: 1, 0, 0, 1>, output_padding = array<i64: 1, 0>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x7x4x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %g = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %g1 = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [0, 0, 1, 1] {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:      func.return %a, %a0, %g, %g1 : tensor<1x4x6x6x!qtrain.q<si32, sym>>, tensor<1x4x7x4x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>, tensor<2x4x3x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:    }

// GENERIC:      %a = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw, %b, %sa) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %a0 = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 1>, padding = array<i64: 1, 0, 0, 1>, output_padding = array<i64: 1, 0>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x7x4x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %g = "qtrain.qconv_transpose2d_grad_weight"(%x, %zx, %e, %ze) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %g1 = "qtrain.qconv_transpose2d_grad_weight"(%x, %zx, %e, %ze) <{stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 1, 1>}> {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>

// ---- streamed conv-transpose accumulator (range / requantize) and the fused weight update ----
qtrain.param @d.weight trainable : tensor<2x4x3x3x!qtrain.q<si8, asym>> = dense<1> : tensor<2x4x3x3xi8>
qtrain.state @d.weight.row_range : tensor<2x2xi32> = dense<0> : tensor<2x2xi32>
func.func @streamed(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %b: tensor<4xf32>, %s: tensor<f32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %t: tensor<i32>) -> (tensor<2xf32>, tensor<1x4x6x6x!qtrain.q<ui8, asym>>) {
  %r = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2xf32>
  %y = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %s, %s, %zx) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<ui8, asym>>
  "qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %zx, %s, %s, %zw, %t) <{param = @d.weight, row_range = @d.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 5.000000e-02 : f64, rounding = "stochastic", seed = 3 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()
  func.return %r, %y : tensor<2xf32>, tensor<1x4x6x6x!qtrain.q<ui8, asym>>
}
// CHECK:        qtrain.param @d.weight trainable : tensor<2x4x3x3x!qtrain.q<si8, asym>> = dense<1> : tensor<2x4x3x3xi8>
// CHECK-NEXT:   qtrain.state @d.weight.row_range : tensor<2x2xi32> = dense<0> : tensor<2x2xi32>
// CHECK-NEXT:   func.func @streamed(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %b: tensor<4xf32>, %s: tensor<f32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %t: tensor<i32>) -> (tensor<2xf32>, tensor<1x4x6x6x!qtrain.q<ui8, asym>>) {
// CHECK-NEXT:     %r = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2xf32>
// CHECK-NEXT:     %y = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %s, %s, %zx) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<ui8, asym>>
// CHECK-NEXT:     "qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %zx, %s, %s, %zw, %t) <{param = @d.weight, row_range = @d.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 5.000000e-02 : f64, rounding = "stochastic", seed = 3 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()
// CHECK-NEXT:     func.return %r, %y : tensor<2xf32>, tensor<1x4x6x6x!qtrain.q<ui8, asym>>
// CHECK-NEXT:   }

// GENERIC:      %r = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2xf32>
// GENERIC-NEXT: %y = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %s, %s, %zx) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> {tag} : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<ui8, asym>>
// GENERIC-NEXT: "qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %zx, %s, %s, %zw, %t) <{param = @d.weight, row_range = @d.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 5.000000e-02 : f64, rounding = "stochastic", seed = 3 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()

// CHECK-NEXT: }
