// Round trip of every fully-quantized-training qtrain op (FQT_OPS in dialects/qtrain_fqt.py):
// custom syntax -> custom syntax, and generic syntax -> custom syntax. Every CHECK is a
// whole printed line, so a printer or parser that drops or changes an operand, a property,
// an optional operand group or a discardable attribute fails the test.
// RUN: odtc-opt %s | odtc-opt | filecheck %s --match-full-lines
// RUN: odtc-opt %s --print-op-generic | odtc-opt | filecheck %s --match-full-lines
// The generic form itself also parses back to the same generic form.
// RUN: odtc-opt %s --print-op-generic | odtc-opt --print-op-generic | filecheck %s --check-prefix=GENERIC --match-full-lines

// CHECK: builtin.module {
// GENERIC: "builtin.module"() ({

// ---- the parameters qsgd_update writes (8-bit per-tensor quantized, trainable) -------------
qtrain.param @fc.weight trainable : tensor<4x3x!qtrain.q<si8, sym>> = dense<1> : tensor<4x3xi8>
qtrain.param @conv.weight trainable : tensor<8x2x3x3x!qtrain.q<ui8, asym>> = dense<7> : tensor<8x2x3x3xi8>
// CHECK-NEXT:   qtrain.param @fc.weight trainable : tensor<4x3x!qtrain.q<si8, sym>> = dense<1> : tensor<4x3xi8>
// CHECK-NEXT:   qtrain.param @conv.weight trainable : tensor<8x2x3x3x!qtrain.q<ui8, asym>> = dense<7> : tensor<8x2x3x3xi8>

// GENERIC:      "qtrain.param"() <{sym_name = "fc.weight", type = tensor<4x3x!qtrain.q<si8, sym>>, init = dense<1> : tensor<4x3xi8>, trainable}> : () -> ()
// GENERIC-NEXT: "qtrain.param"() <{sym_name = "conv.weight", type = tensor<8x2x3x3x!qtrain.q<ui8, asym>>, init = dense<7> : tensor<8x2x3x3xi8>, trainable}> : () -> ()

// ---- scalars and ranges: scale_mul, minmax (f32 / accumulator), ema, running_max, ---------
// ---- range_scale / range_zero_point (asymmetric ui8 and symmetric si8) ---------------------
func.func @ranges(%sx: tensor<f32>, %sw: tensor<f32>, %x: tensor<2x3xf32>, %acc: tensor<2x4x!qtrain.q<si32, sym>>, %r: tensor<2xf32>, %m: tensor<f32>, %loss: tensor<f32>) -> (tensor<f32>, tensor<2xf32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) {
  %s = qtrain.scale_mul %sx, %sw : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %o1 = qtrain.minmax %x : (tensor<2x3xf32>) -> tensor<2xf32>
  %o2 = qtrain.minmax %acc scale %s : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>) -> tensor<2xf32>
  %r1 = qtrain.ema %r, %o1 alpha 1.000000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %r2 = qtrain.ema %r1, %o2 alpha 1.000000e+00 {tag} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %m2 = qtrain.running_max %m, %loss : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %sa = qtrain.range_scale %r2 for <ui8, asym> : (tensor<2xf32>) -> tensor<f32>
  %za = qtrain.range_zero_point %r2 for <ui8, asym> : (tensor<2xf32>) -> tensor<i32>
  %ss = qtrain.range_scale %r2 for <si8, sym> : (tensor<2xf32>) -> tensor<f32>
  %zs = qtrain.range_zero_point %r2 for <si8, sym> : (tensor<2xf32>) -> tensor<i32>
  func.return %s, %r2, %m2, %sa, %za, %ss, %zs : tensor<f32>, tensor<2xf32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>
}
// CHECK-LABEL:   func.func @ranges(%sx: tensor<f32>, %sw: tensor<f32>, %x: tensor<2x3xf32>, %acc: tensor<2x4x!qtrain.q<si32, sym>>, %r: tensor<2xf32>, %m: tensor<f32>, %loss: tensor<f32>) -> (tensor<f32>, tensor<2xf32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) {
// CHECK-NEXT:      %s = qtrain.scale_mul %sx, %sw : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK-NEXT:      %o1 = qtrain.minmax %x : (tensor<2x3xf32>) -> tensor<2xf32>
// CHECK-NEXT:      %o2 = qtrain.minmax %acc scale %s : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>) -> tensor<2xf32>
// CHECK-NEXT:      %r1 = qtrain.ema %r, %o1 alpha 1.000000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:      %r2 = qtrain.ema %r1, %o2 alpha 1.000000e+00 {tag} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:      %m2 = qtrain.running_max %m, %loss : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK-NEXT:      %sa = qtrain.range_scale %r2 for <ui8, asym> : (tensor<2xf32>) -> tensor<f32>
// CHECK-NEXT:      %za = qtrain.range_zero_point %r2 for <ui8, asym> : (tensor<2xf32>) -> tensor<i32>
// CHECK-NEXT:      %ss = qtrain.range_scale %r2 for <si8, sym> : (tensor<2xf32>) -> tensor<f32>
// CHECK-NEXT:      %zs = qtrain.range_zero_point %r2 for <si8, sym> : (tensor<2xf32>) -> tensor<i32>
// CHECK-NEXT:      func.return %s, %r2, %m2, %sa, %za, %ss, %zs : tensor<f32>, tensor<2xf32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>
// CHECK-NEXT:    }

// GENERIC:      %s = "qtrain.scale_mul"(%sx, %sw) : (tensor<f32>, tensor<f32>) -> tensor<f32>
// GENERIC-NEXT: %o1 = "qtrain.minmax"(%x) : (tensor<2x3xf32>) -> tensor<2xf32>
// GENERIC-NEXT: %o2 = "qtrain.minmax"(%acc, %s) : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>) -> tensor<2xf32>
// GENERIC-NEXT: %r1 = "qtrain.ema"(%r, %o1) <{alpha = 1.000000e-01 : f64}> : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// GENERIC-NEXT: %r2 = "qtrain.ema"(%r1, %o2) <{alpha = 1.000000e+00 : f64}> {tag} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// GENERIC-NEXT: %m2 = "qtrain.running_max"(%m, %loss) : (tensor<f32>, tensor<f32>) -> tensor<f32>
// GENERIC-NEXT: %sa = "qtrain.range_scale"(%r2) <{qtype = !qtrain.q<ui8, asym>}> : (tensor<2xf32>) -> tensor<f32>
// GENERIC-NEXT: %za = "qtrain.range_zero_point"(%r2) <{qtype = !qtrain.q<ui8, asym>}> : (tensor<2xf32>) -> tensor<i32>
// GENERIC-NEXT: %ss = "qtrain.range_scale"(%r2) <{qtype = !qtrain.q<si8, sym>}> : (tensor<2xf32>) -> tensor<f32>
// GENERIC-NEXT: %zs = "qtrain.range_zero_point"(%r2) <{qtype = !qtrain.q<si8, sym>}> : (tensor<2xf32>) -> tensor<i32>

// ---- forward: qconv2d_acc / qdense_acc (with and without bias), acc_relu, requantize_acc ---
// qconv2d_acc, qdense_acc (and the other ops with several optional operands) have no custom
// syntax: they print in generic form even without --print-op-generic.
func.func @forward(%x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<8x2x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %b: tensor<8xf32>, %s: tensor<f32>, %dx: tensor<2x3x!qtrain.q<si8, asym>>, %dw: tensor<4x3x!qtrain.q<si8, sym>>, %db: tensor<4xf32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<1x8x4x4x!qtrain.q<ui8, asym>>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<1x8x6x6x!qtrain.q<si32, sym>>, tensor<2x4x!qtrain.q<si32, sym>>) {
  %a = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<8xf32>, tensor<f32>) -> tensor<1x8x4x4x!qtrain.q<si32, sym>>
  %a0 = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x8x6x6x!qtrain.q<si32, sym>>
  %r = qtrain.acc_relu %a : (tensor<1x8x4x4x!qtrain.q<si32, sym>>) -> tensor<1x8x4x4x!qtrain.q<si32, sym>>
  %y = qtrain.requantize_acc %r[%s] -> [%sy, %zy] : (tensor<1x8x4x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<ui8, asym>>
  %d = "qtrain.qdense_acc"(%dx, %zx, %dw, %zw, %db, %s) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2x4x!qtrain.q<si32, sym>>
  %d0 = "qtrain.qdense_acc"(%dx, %zx, %dw, %zw) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x4x!qtrain.q<si32, sym>>
  %dy = qtrain.requantize_acc %d[%s] -> [%sy, %zy] {tag} : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<2x4x!qtrain.q<si8, asym>>
  func.return %y, %dy, %a0, %d0 : tensor<1x8x4x4x!qtrain.q<ui8, asym>>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<1x8x6x6x!qtrain.q<si32, sym>>, tensor<2x4x!qtrain.q<si32, sym>>
}
// CHECK-LABEL:   func.func @forward(%x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<8x2x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %b: tensor<8xf32>, %s: tensor<f32>, %dx: tensor<2x3x!qtrain.q<si8, asym>>, %dw: tensor<4x3x!qtrain.q<si8, sym>>, %db: tensor<4xf32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<1x8x4x4x!qtrain.q<ui8, asym>>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<1x8x6x6x!qtrain.q<si32, sym>>, tensor<2x4x!qtrain.q<si32, sym>>) {
// CHECK-NEXT:      %a = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<8xf32>, tensor<f32>) -> tensor<1x8x4x4x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %a0 = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x8x6x6x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %r = qtrain.acc_relu %a : (tensor<1x8x4x4x!qtrain.q<si32, sym>>) -> tensor<1x8x4x4x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %y = qtrain.requantize_acc %r[%s] -> [%sy, %zy] : (tensor<1x8x4x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<ui8, asym>>
// CHECK-NEXT:      %d = "qtrain.qdense_acc"(%dx, %zx, %dw, %zw, %db, %s) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2x4x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %d0 = "qtrain.qdense_acc"(%dx, %zx, %dw, %zw) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x4x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %dy = qtrain.requantize_acc %d[%s] -> [%sy, %zy] {tag} : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<2x4x!qtrain.q<si8, asym>>
// CHECK-NEXT:      func.return %y, %dy, %a0, %d0 : tensor<1x8x4x4x!qtrain.q<ui8, asym>>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<1x8x6x6x!qtrain.q<si32, sym>>, tensor<2x4x!qtrain.q<si32, sym>>
// CHECK-NEXT:    }

// GENERIC:      %a = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<8xf32>, tensor<f32>) -> tensor<1x8x4x4x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %a0 = "qtrain.qconv2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x8x6x6x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %r = "qtrain.acc_relu"(%a) : (tensor<1x8x4x4x!qtrain.q<si32, sym>>) -> tensor<1x8x4x4x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %y = "qtrain.requantize_acc"(%r, %s, %sy, %zy) : (tensor<1x8x4x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<ui8, asym>>
// GENERIC-NEXT: %d = "qtrain.qdense_acc"(%dx, %zx, %dw, %zw, %db, %s) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2x4x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %d0 = "qtrain.qdense_acc"(%dx, %zx, %dw, %zw) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x4x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %dy = "qtrain.requantize_acc"(%d, %s, %sy, %zy) {tag} : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<2x4x!qtrain.q<si8, asym>>

// ---- backward: qrelu_grad, q*_grad_input, q*_grad_weight (all rows and `select`) ---------
func.func @backward(%e: tensor<1x8x4x4x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %y: tensor<1x8x4x4x!qtrain.q<ui8, asym>>, %zy: tensor<i32>, %w: tensor<8x2x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %de: tensor<2x4x!qtrain.q<si8, asym>>, %dw: tensor<4x3x!qtrain.q<si8, sym>>, %dx: tensor<2x3x!qtrain.q<si8, asym>>, %idx: tensor<8xi32>, %k: tensor<i32>, %didx: tensor<4xi32>) -> (tensor<1x4x8x8x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<2x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>) {
  %g = qtrain.qrelu_grad %e[%ze], %y[%zy] : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>>
  %gi = qtrain.qconv2d_grad_input %g[%ze], %w[%zw] stride [2, 2] padding [1, 1, 0, 0] groups 2 : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x8x8x!qtrain.q<si32, sym>>
  %gw = "qtrain.qconv2d_grad_weight"(%x, %zx, %g, %ze) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<8x2x3x3x!qtrain.q<si32, sym>>
  %gws = "qtrain.qconv2d_grad_weight"(%x, %zx, %g, %ze, %idx, %k) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8xi32>, tensor<i32>) -> tensor<8x2x3x3x!qtrain.q<si32, sym>>
  %di = qtrain.qdense_grad_input %de[%ze], %dw[%zw] : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x3x!qtrain.q<si32, sym>>
  %dgw = "qtrain.qdense_grad_weight"(%dx, %zx, %de, %ze) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
  %dgws = "qtrain.qdense_grad_weight"(%dx, %zx, %de, %ze, %didx, %k) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xi32>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
  func.return %gi, %gw, %gws, %di, %dgw, %dgws : tensor<1x4x8x8x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<2x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>
}
// CHECK-LABEL:   func.func @backward(%e: tensor<1x8x4x4x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %y: tensor<1x8x4x4x!qtrain.q<ui8, asym>>, %zy: tensor<i32>, %w: tensor<8x2x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %de: tensor<2x4x!qtrain.q<si8, asym>>, %dw: tensor<4x3x!qtrain.q<si8, sym>>, %dx: tensor<2x3x!qtrain.q<si8, asym>>, %idx: tensor<8xi32>, %k: tensor<i32>, %didx: tensor<4xi32>) -> (tensor<1x4x8x8x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<2x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>) {
// CHECK-NEXT:      %g = qtrain.qrelu_grad %e[%ze], %y[%zy] : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>>
// CHECK-NEXT:      %gi = qtrain.qconv2d_grad_input %g[%ze], %w[%zw] stride [2, 2] padding [1, 1, 0, 0] groups 2 : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x8x8x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %gw = "qtrain.qconv2d_grad_weight"(%x, %zx, %g, %ze) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<8x2x3x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %gws = "qtrain.qconv2d_grad_weight"(%x, %zx, %g, %ze, %idx, %k) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8xi32>, tensor<i32>) -> tensor<8x2x3x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %di = qtrain.qdense_grad_input %de[%ze], %dw[%zw] : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %dgw = "qtrain.qdense_grad_weight"(%dx, %zx, %de, %ze) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:      %dgws = "qtrain.qdense_grad_weight"(%dx, %zx, %de, %ze, %didx, %k) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xi32>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:      func.return %gi, %gw, %gws, %di, %dgw, %dgws : tensor<1x4x8x8x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<2x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x3x!qtrain.q<si32, sym>>
// CHECK-NEXT:    }

// GENERIC:      %g = "qtrain.qrelu_grad"(%e, %ze, %y, %zy) : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>>
// GENERIC-NEXT: %gi = "qtrain.qconv2d_grad_input"(%g, %ze, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64}> : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x8x8x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %gw = "qtrain.qconv2d_grad_weight"(%x, %zx, %g, %ze) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<8x2x3x3x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %gws = "qtrain.qconv2d_grad_weight"(%x, %zx, %g, %ze, %idx, %k) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8xi32>, tensor<i32>) -> tensor<8x2x3x3x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %di = "qtrain.qdense_grad_input"(%de, %ze, %dw, %zw) : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x3x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %dgw = "qtrain.qdense_grad_weight"(%dx, %zx, %de, %ze) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
// GENERIC-NEXT: %dgws = "qtrain.qdense_grad_weight"(%dx, %zx, %de, %ze, %didx, %k) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xi32>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>

// ---- update: grad_stats (standardize / qas / none, select), qsgd_range, qsgd_update --------
// (nearest; stochastic with step, with and without select; acc and f32 gradients)
func.func @update(%g: tensor<4x3x!qtrain.q<si32, sym>>, %gf: tensor<4x3xf32>, %sg: tensor<f32>, %sw: tensor<f32>, %zw: tensor<i32>, %sw2: tensor<f32>, %zw2: tensor<i32>, %idx: tensor<4xi32>, %k: tensor<i32>, %t: tensor<i32>, %cg: tensor<8x2x3x3x!qtrain.q<si32, sym>>, %cidx: tensor<8xi32>, %w: tensor<4x3x!qtrain.q<si8, sym>>) -> tensor<2xf32> {
  %st = "qtrain.grad_stats"(%g) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>) -> tensor<4x2xf32>
  %sq = "qtrain.grad_stats"(%g, %sg, %sw) <{mode = "qas", operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>) -> tensor<4x2xf32>
  %sn = "qtrain.grad_stats"(%gf) <{mode = "none", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3xf32>) -> tensor<4x2xf32>
  %sc = "qtrain.grad_stats"(%cg, %cidx, %k) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 1, 1>}> : (tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8xi32>, tensor<i32>) -> tensor<8x2xf32>
  %r = "qtrain.qsgd_range"(%w, %sw, %zw, %g, %st) <{lr = 1.000000e-02 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x2xf32>) -> tensor<2xf32>
  %rs = "qtrain.qsgd_range"(%w, %sw, %zw, %gf, %sn, %idx, %k) <{lr = 5.000000e-01 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x3xf32>, tensor<4x2xf32>, tensor<4xi32>, tensor<i32>) -> tensor<2xf32>
  "qtrain.qsgd_update"(%g, %st, %sw, %zw, %sw2, %zw2) <{param = @fc.weight, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
  "qtrain.qsgd_update"(%gf, %sq, %sw, %zw, %sw2, %zw2, %idx, %k, %t) <{param = @fc.weight, lr = 1.000000e-02 : f64, rounding = "stochastic", seed = 42 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<4x3xf32>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>) -> ()
  "qtrain.qsgd_update"(%cg, %sc, %sw, %zw, %sw2, %zw2, %t) <{param = @conv.weight, lr = 2.500000e-01 : f64, rounding = "stochastic", seed = 7 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()
  func.return %rs : tensor<2xf32>
}
// CHECK-LABEL:   func.func @update(%g: tensor<4x3x!qtrain.q<si32, sym>>, %gf: tensor<4x3xf32>, %sg: tensor<f32>, %sw: tensor<f32>, %zw: tensor<i32>, %sw2: tensor<f32>, %zw2: tensor<i32>, %idx: tensor<4xi32>, %k: tensor<i32>, %t: tensor<i32>, %cg: tensor<8x2x3x3x!qtrain.q<si32, sym>>, %cidx: tensor<8xi32>, %w: tensor<4x3x!qtrain.q<si8, sym>>) -> tensor<2xf32> {
// CHECK-NEXT:      %st = "qtrain.grad_stats"(%g) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>) -> tensor<4x2xf32>
// CHECK-NEXT:      %sq = "qtrain.grad_stats"(%g, %sg, %sw) <{mode = "qas", operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>) -> tensor<4x2xf32>
// CHECK-NEXT:      %sn = "qtrain.grad_stats"(%gf) <{mode = "none", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:      %sc = "qtrain.grad_stats"(%cg, %cidx, %k) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 1, 1>}> : (tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8xi32>, tensor<i32>) -> tensor<8x2xf32>
// CHECK-NEXT:      %r = "qtrain.qsgd_range"(%w, %sw, %zw, %g, %st) <{lr = 1.000000e-02 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x2xf32>) -> tensor<2xf32>
// CHECK-NEXT:      %rs = "qtrain.qsgd_range"(%w, %sw, %zw, %gf, %sn, %idx, %k) <{lr = 5.000000e-01 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x3xf32>, tensor<4x2xf32>, tensor<4xi32>, tensor<i32>) -> tensor<2xf32>
// CHECK-NEXT:      "qtrain.qsgd_update"(%g, %st, %sw, %zw, %sw2, %zw2) <{param = @fc.weight, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
// CHECK-NEXT:      "qtrain.qsgd_update"(%gf, %sq, %sw, %zw, %sw2, %zw2, %idx, %k, %t) <{param = @fc.weight, lr = 1.000000e-02 : f64, rounding = "stochastic", seed = 42 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<4x3xf32>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>) -> ()
// CHECK-NEXT:      "qtrain.qsgd_update"(%cg, %sc, %sw, %zw, %sw2, %zw2, %t) <{param = @conv.weight, lr = 2.500000e-01 : f64, rounding = "stochastic", seed = 7 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()
// CHECK-NEXT:      func.return %rs : tensor<2xf32>
// CHECK-NEXT:    }

// GENERIC:      %st = "qtrain.grad_stats"(%g) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>) -> tensor<4x2xf32>
// GENERIC-NEXT: %sq = "qtrain.grad_stats"(%g, %sg, %sw) <{mode = "qas", operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>) -> tensor<4x2xf32>
// GENERIC-NEXT: %sn = "qtrain.grad_stats"(%gf) <{mode = "none", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3xf32>) -> tensor<4x2xf32>
// GENERIC-NEXT: %sc = "qtrain.grad_stats"(%cg, %cidx, %k) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 1, 1>}> : (tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8xi32>, tensor<i32>) -> tensor<8x2xf32>
// GENERIC-NEXT: %r = "qtrain.qsgd_range"(%w, %sw, %zw, %g, %st) <{lr = 1.000000e-02 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x2xf32>) -> tensor<2xf32>
// GENERIC-NEXT: %rs = "qtrain.qsgd_range"(%w, %sw, %zw, %gf, %sn, %idx, %k) <{lr = 5.000000e-01 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x3xf32>, tensor<4x2xf32>, tensor<4xi32>, tensor<i32>) -> tensor<2xf32>
// GENERIC-NEXT: "qtrain.qsgd_update"(%g, %st, %sw, %zw, %sw2, %zw2) <{param = @fc.weight, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
// GENERIC-NEXT: "qtrain.qsgd_update"(%gf, %sq, %sw, %zw, %sw2, %zw2, %idx, %k, %t) <{param = @fc.weight, lr = 1.000000e-02 : f64, rounding = "stochastic", seed = 42 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<4x3xf32>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>) -> ()
// GENERIC-NEXT: "qtrain.qsgd_update"(%cg, %sc, %sw, %zw, %sw2, %zw2, %t) <{param = @conv.weight, lr = 2.500000e-01 : f64, rounding = "stochastic", seed = 7 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<8x2x3x3x!qtrain.q<si32, sym>>, tensor<8x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()

// ---- partial updates: topk_count, topk_structures (rank-2 and rank-4 errors) --------------
func.func @partial(%loss: tensor<f32>, %lmax: tensor<f32>, %e: tensor<1x8x4x4x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %de: tensor<2x4x!qtrain.q<si8, asym>>) -> (tensor<8xi32>, tensor<4xi32>) {
  %k = qtrain.topk_count %loss, %lmax lambda_min 5.000000e-01 lambda_max 1.000000e+00 structures 8 : (tensor<f32>, tensor<f32>) -> tensor<i32>
  %k2 = qtrain.topk_count %loss, %lmax lambda_min 0.000000e+00 lambda_max 0.000000e+00 structures 4 {tag} : (tensor<f32>, tensor<f32>) -> tensor<i32>
  %idx = qtrain.topk_structures %e[%ze], %k : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<8xi32>
  %didx = qtrain.topk_structures %de[%ze], %k2 : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<4xi32>
  func.return %idx, %didx : tensor<8xi32>, tensor<4xi32>
}
// CHECK-LABEL:   func.func @partial(%loss: tensor<f32>, %lmax: tensor<f32>, %e: tensor<1x8x4x4x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %de: tensor<2x4x!qtrain.q<si8, asym>>) -> (tensor<8xi32>, tensor<4xi32>) {
// CHECK-NEXT:      %k = qtrain.topk_count %loss, %lmax lambda_min 5.000000e-01 lambda_max 1.000000e+00 structures 8 : (tensor<f32>, tensor<f32>) -> tensor<i32>
// CHECK-NEXT:      %k2 = qtrain.topk_count %loss, %lmax lambda_min 0.000000e+00 lambda_max 0.000000e+00 structures 4 {tag} : (tensor<f32>, tensor<f32>) -> tensor<i32>
// CHECK-NEXT:      %idx = qtrain.topk_structures %e[%ze], %k : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<8xi32>
// CHECK-NEXT:      %didx = qtrain.topk_structures %de[%ze], %k2 : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<4xi32>
// CHECK-NEXT:      func.return %idx, %didx : tensor<8xi32>, tensor<4xi32>
// CHECK-NEXT:    }

// GENERIC:      %k = "qtrain.topk_count"(%loss, %lmax) <{lambda_min = 5.000000e-01 : f64, lambda_max = 1.000000e+00 : f64, structures = 8 : i64}> : (tensor<f32>, tensor<f32>) -> tensor<i32>
// GENERIC-NEXT: %k2 = "qtrain.topk_count"(%loss, %lmax) <{lambda_min = 0.000000e+00 : f64, lambda_max = 0.000000e+00 : f64, structures = 4 : i64}> {tag} : (tensor<f32>, tensor<f32>) -> tensor<i32>
// GENERIC-NEXT: %idx = "qtrain.topk_structures"(%e, %ze, %k) : (tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<8xi32>
// GENERIC-NEXT: %didx = "qtrain.topk_structures"(%de, %ze, %k2) : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<4xi32>

// ---- fused update on a held grid: q{dense,conv2d}_grad_weight_sgd (with / without select
// and step), qweight_regrid (custom syntax) ----------------------------------------------------
qtrain.param @fu.weight trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<2> : tensor<4x3xi8>
qtrain.param @cu.weight trainable : tensor<8x2x3x3x!qtrain.q<si8, sym>> = dense<3> : tensor<8x2x3x3xi8>
qtrain.state @fu.weight.scale : tensor<f32> = dense<0.5> : tensor<f32>
qtrain.state @fu.weight.zero_point : tensor<i32> = dense<-3> : tensor<i32>
qtrain.state @fu.weight.row_range : tensor<4x2xi32> = dense<5> : tensor<4x2xi32>
qtrain.state @cu.weight.row_range : tensor<8x2xi32> = dense<3> : tensor<8x2xi32>
func.func @fused(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %sg: tensor<f32>, %sw: tensor<f32>, %zw: tensor<i32>, %idx: tensor<4xi32>, %k: tensor<i32>, %t: tensor<i32>, %cx: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %ce: tensor<1x8x3x3x!qtrain.q<si8, asym>>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %zx, %e, %ze, %sg, %sw, %zw) <{param = @fu.weight, row_range = @fu.weight.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  "qtrain.qdense_grad_weight_sgd"(%x, %zx, %e, %ze, %sg, %sw, %zw, %idx, %k, %t) <{param = @fu.weight, row_range = @fu.weight.row_range, lr = 2.000000e-02 : f64, rounding = "stochastic", seed = 5 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>) -> ()
  "qtrain.qconv2d_grad_weight_sgd"(%cx, %zx, %ce, %ze, %sg, %sw, %zw, %t) <{param = @cu.weight, row_range = @cu.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, lr = 5.000000e-02 : f64, rounding = "stochastic", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()
  qtrain.qweight_regrid @fu.weight rows @fu.weight.row_range scale @fu.weight.scale zero_point @fu.weight.zero_point headroom 1.250000e-01 rounding "nearest" seed 0
  qtrain.qweight_regrid @fu.weight rows @fu.weight.row_range scale @fu.weight.scale zero_point @fu.weight.zero_point headroom 0.000000e+00 rounding "stochastic" seed 3 step %t : tensor<i32> {tag}
  func.return
}
// CHECK-NEXT:    qtrain.param @fu.weight trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<2> : tensor<4x3xi8>
// CHECK-NEXT:    qtrain.param @cu.weight trainable : tensor<8x2x3x3x!qtrain.q<si8, sym>> = dense<3> : tensor<8x2x3x3xi8>
// CHECK-NEXT:    qtrain.state @fu.weight.scale : tensor<f32> = dense<5.000000e-01> : tensor<f32>
// CHECK-NEXT:    qtrain.state @fu.weight.zero_point : tensor<i32> = dense<-3> : tensor<i32>
// CHECK-NEXT:    qtrain.state @fu.weight.row_range : tensor<4x2xi32> = dense<5> : tensor<4x2xi32>
// CHECK-NEXT:    qtrain.state @cu.weight.row_range : tensor<8x2xi32> = dense<3> : tensor<8x2xi32>
// CHECK-NEXT:    func.func @fused(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %sg: tensor<f32>, %sw: tensor<f32>, %zw: tensor<i32>, %idx: tensor<4xi32>, %k: tensor<i32>, %t: tensor<i32>, %cx: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %ce: tensor<1x8x3x3x!qtrain.q<si8, asym>>) {
// CHECK-NEXT:      "qtrain.qdense_grad_weight_sgd"(%x, %zx, %e, %ze, %sg, %sw, %zw) <{param = @fu.weight, row_range = @fu.weight.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
// CHECK-NEXT:      "qtrain.qdense_grad_weight_sgd"(%x, %zx, %e, %ze, %sg, %sw, %zw, %idx, %k, %t) <{param = @fu.weight, row_range = @fu.weight.row_range, lr = 2.000000e-02 : f64, rounding = "stochastic", seed = 5 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 1>}> {tag} : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>) -> ()
// CHECK-NEXT:      "qtrain.qconv2d_grad_weight_sgd"(%cx, %zx, %ce, %ze, %sg, %sw, %zw, %t) <{param = @cu.weight, row_range = @cu.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, lr = 5.000000e-02 : f64, rounding = "stochastic", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 1>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<i32>) -> ()
// CHECK-NEXT:      qtrain.qweight_regrid @fu.weight rows @fu.weight.row_range scale @fu.weight.scale zero_point @fu.weight.zero_point headroom 1.250000e-01 rounding "nearest" seed 0
// CHECK-NEXT:      qtrain.qweight_regrid @fu.weight rows @fu.weight.row_range scale @fu.weight.scale zero_point @fu.weight.zero_point headroom 0.000000e+00 rounding "stochastic" seed 3 step %t : tensor<i32> {tag}
// CHECK-NEXT:      func.return
// CHECK-NEXT:    }

// GENERIC:      "qtrain.qweight_regrid"() <{param = @fu.weight, row_range = @fu.weight.row_range, scale = @fu.weight.scale, zero_point = @fu.weight.zero_point, headroom = 1.250000e-01 : f64, rounding = "nearest", seed = 0 : i64}> : () -> ()
// GENERIC-NEXT: "qtrain.qweight_regrid"(%t) <{param = @fu.weight, row_range = @fu.weight.row_range, scale = @fu.weight.scale, zero_point = @fu.weight.zero_point, headroom = 0.000000e+00 : f64, rounding = "stochastic", seed = 3 : i64}> {tag} : (tensor<i32>) -> ()


// ---- streamed accumulators (qtrain-stream-accumulators) and the bias gradient from an -------
// ---- 8-bit error ---------------------------------------------------------------------------
func.func @streamed(%x: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %b: tensor<4xf32>, %s: tensor<f32>, %sy: tensor<f32>, %zy: tensor<i32>, %e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ev: tensor<2x5x!qtrain.q<ui8, asym>>) -> (tensor<2xf32>, tensor<1x4x3x3x!qtrain.q<ui8, asym>>, tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<4xf32>, tensor<5xf32>) {
  %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2xf32>
  %y = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %b, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x3x3x!qtrain.q<ui8, asym>>
  %y2 = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> {tag} : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x3x3x!qtrain.q<si8, asym>>
  %gb = qtrain.qgrad_bias %e[%s, %zw] : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<4xf32>
  %gv = qtrain.qgrad_bias %ev[%s, %zw] {tag} : (tensor<2x5x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<5xf32>
  func.return %r, %y, %y2, %gb, %gv : tensor<2xf32>, tensor<1x4x3x3x!qtrain.q<ui8, asym>>, tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<4xf32>, tensor<5xf32>
}
// CHECK-LABEL:   func.func @streamed(%x: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %b: tensor<4xf32>, %s: tensor<f32>, %sy: tensor<f32>, %zy: tensor<i32>, %e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ev: tensor<2x5x!qtrain.q<ui8, asym>>) -> (tensor<2xf32>, tensor<1x4x3x3x!qtrain.q<ui8, asym>>, tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<4xf32>, tensor<5xf32>) {
// CHECK-NEXT:     %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2xf32>
// CHECK-NEXT:     %y = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %b, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x3x3x!qtrain.q<ui8, asym>>
// CHECK-NEXT:     %y2 = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> {tag} : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x3x3x!qtrain.q<si8, asym>>
// CHECK-NEXT:     %gb = qtrain.qgrad_bias %e[%s, %zw] : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<4xf32>
// CHECK-NEXT:     %gv = qtrain.qgrad_bias %ev[%s, %zw] {tag} : (tensor<2x5x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<5xf32>
// CHECK-NEXT:     func.return %r, %y, %y2, %gb, %gv : tensor<2xf32>, tensor<1x4x3x3x!qtrain.q<ui8, asym>>, tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<4xf32>, tensor<5xf32>
// CHECK-NEXT:   }

// GENERIC:      %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2xf32>
// GENERIC-NEXT: %y = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %b, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, relu, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x3x3x!qtrain.q<ui8, asym>>
// GENERIC-NEXT: %y2 = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> {tag} : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x3x3x!qtrain.q<si8, asym>>
// GENERIC-NEXT: %gb = "qtrain.qgrad_bias"(%e, %s, %zw) : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<4xf32>
// GENERIC-NEXT: %gv = "qtrain.qgrad_bias"(%ev, %s, %zw) {tag} : (tensor<2x5x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<5xf32>

func.func @streamed_grad_input(%e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<2xf32>, tensor<1x2x6x6x!qtrain.q<si8, asym>>) {
  %r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %zw, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> {qtrain.backward} : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  %y = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %zw, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x6x6x!qtrain.q<si8, asym>>
  func.return %r, %y : tensor<2xf32>, tensor<1x2x6x6x!qtrain.q<si8, asym>>
}
// CHECK-LABEL:   func.func @streamed_grad_input(%e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<2xf32>, tensor<1x2x6x6x!qtrain.q<si8, asym>>) {
// CHECK-NEXT:     %r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %zw, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> {qtrain.backward} : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
// CHECK-NEXT:     %y = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %zw, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x6x6x!qtrain.q<si8, asym>>
// CHECK-NEXT:     func.return %r, %y : tensor<2xf32>, tensor<1x2x6x6x!qtrain.q<si8, asym>>
// CHECK-NEXT:   }

// GENERIC:      %r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %zw, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> {qtrain.backward} : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
// GENERIC-NEXT: %y = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %zw, %s, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x6x6x!qtrain.q<si8, asym>>

// CHECK-NEXT: }
