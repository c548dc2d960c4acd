// Round trip of every qtrain op, attribute and type: custom syntax -> custom syntax, and
// generic syntax -> custom syntax. Every CHECK is a whole printed line, so a printer or
// parser that drops or changes anything fails the test.
// RUN: odtc-opt %s | odtc-opt | filecheck %s --match-full-lines
// RUN: odtc-opt %s --print-op-generic | odtc-opt | filecheck %s --match-full-lines
// The generic form itself also parses back to the same generic form.
// RUN: odtc-opt %s --print-op-generic | odtc-opt --print-op-generic | filecheck %s --check-prefix=GENERIC --match-full-lines

// CHECK: builtin.module {

// ---- symbols: param (trainable/frozen, dense/npz init, channels) and state -------------

qtrain.param @conv_w trainable : tensor<8x3x3x3xf32> = dense<5.000000e-01> : tensor<8x3x3x3xf32>
qtrain.param @conv_b frozen : tensor<8xf32> = #qtrain.npz<"weights.npz", "conv1_b">
qtrain.param @fc_w frozen : tensor<2x3xf32> = dense<[[1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
qtrain.param @sparse_w trainable : tensor<8x4xf32> = #qtrain.npz<"weights.npz", "sparse_w"> {channels = array<i64: 0, 3, 7>}
qtrain.param @qw frozen : tensor<4x!qtrain.q<si8, sym, axis 0>> = dense<[1, -2, 3, -128]> : tensor<4xi8>
qtrain.state @act_scale : tensor<f32> = dense<1.000000e+00> : tensor<f32>
qtrain.state @act_zp : tensor<i32> = dense<0> : tensor<i32>
qtrain.state @moment : tensor<8xf32> = #qtrain.npz<"state.npz", "m"> {note = "adam m"}
// CHECK-NEXT:   qtrain.param @conv_w trainable : tensor<8x3x3x3xf32> = dense<5.000000e-01> : tensor<8x3x3x3xf32>
// CHECK-NEXT:   qtrain.param @conv_b frozen : tensor<8xf32> = #qtrain.npz<"weights.npz", "conv1_b">
// CHECK-NEXT:   qtrain.param @fc_w frozen : tensor<2x3xf32> = dense<[[1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK-NEXT:   qtrain.param @sparse_w trainable : tensor<8x4xf32> = #qtrain.npz<"weights.npz", "sparse_w"> {channels = array<i64: 0, 3, 7>}
// CHECK-NEXT:   qtrain.param @qw frozen : tensor<4x!qtrain.q<si8, sym, axis 0>> = dense<[1, -2, 3, -128]> : tensor<4xi8>
// CHECK-NEXT:   qtrain.state @act_scale : tensor<f32> = dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:   qtrain.state @act_zp : tensor<i32> = dense<0> : tensor<i32>
// CHECK-NEXT:   qtrain.state @moment : tensor<8xf32> = #qtrain.npz<"state.npz", "m"> {note = "adam m"}

// GENERIC:      "builtin.module"() ({
// GENERIC-NEXT:   "qtrain.param"() <{sym_name = "conv_w", type = tensor<8x3x3x3xf32>, init = dense<5.000000e-01> : tensor<8x3x3x3xf32>, trainable}> : () -> ()
// GENERIC-NEXT:   "qtrain.param"() <{sym_name = "conv_b", type = tensor<8xf32>, init = #qtrain.npz<"weights.npz", "conv1_b">}> : () -> ()
// GENERIC-NEXT:   "qtrain.param"() <{sym_name = "fc_w", type = tensor<2x3xf32>, init = dense<[[1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>}> : () -> ()
// GENERIC-NEXT:   "qtrain.param"() <{sym_name = "sparse_w", type = tensor<8x4xf32>, init = #qtrain.npz<"weights.npz", "sparse_w">, trainable}> {channels = array<i64: 0, 3, 7>} : () -> ()
// GENERIC-NEXT:   "qtrain.param"() <{sym_name = "qw", type = tensor<4x!qtrain.q<si8, sym, axis 0>>, init = dense<[1, -2, 3, -128]> : tensor<4xi8>}> : () -> ()
// GENERIC-NEXT:   "qtrain.state"() <{sym_name = "act_scale", type = tensor<f32>, init = dense<1.000000e+00> : tensor<f32>}> : () -> ()
// GENERIC-NEXT:   "qtrain.state"() <{sym_name = "act_zp", type = tensor<i32>, init = dense<0> : tensor<i32>}> : () -> ()
// GENERIC-NEXT:   "qtrain.state"() <{sym_name = "moment", type = tensor<8xf32>, init = #qtrain.npz<"state.npz", "m">}> {note = "adam m"} : () -> ()

// ---- load / store ------------------------------------------------------------------------

func.func @load_store(%m: tensor<8xf32>) -> tensor<8x3x3x3xf32> {
  %w = qtrain.load @conv_w : tensor<8x3x3x3xf32>
  %b = qtrain.load @conv_b : tensor<8xf32>
  qtrain.store %m, @moment : tensor<8xf32>
  qtrain.store %w, @conv_w : tensor<8x3x3x3xf32>
  func.return %w : tensor<8x3x3x3xf32>
}
// CHECK-LABEL:   func.func @load_store(%m: tensor<8xf32>) -> tensor<8x3x3x3xf32> {
// CHECK-NEXT:      %w = qtrain.load @conv_w : tensor<8x3x3x3xf32>
// CHECK-NEXT:      %b = qtrain.load @conv_b : tensor<8xf32>
// CHECK-NEXT:      qtrain.store %m, @moment : tensor<8xf32>
// CHECK-NEXT:      qtrain.store %w, @conv_w : tensor<8x3x3x3xf32>
// CHECK-NEXT:      func.return %w : tensor<8x3x3x3xf32>
// CHECK-NEXT:    }

// GENERIC:      %w = "qtrain.load"() <{symbol = @conv_w}> : () -> tensor<8x3x3x3xf32>
// GENERIC:      "qtrain.store"(%m) <{symbol = @moment}> : (tensor<8xf32>) -> ()

// ---- conv2d --------------------------------------------------------------------------------

func.func @conv2d(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>, %dw: tensor<8x1x3x3xf32>) -> (tensor<1x8x8x8xf32>, tensor<1x8x4x3xf32>, tensor<1x8x3x2xf32>) {
  %y = qtrain.conv2d %x, %w, %b stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  %z = qtrain.conv2d %x, %w stride [2, 3] padding [0, 1, 1, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x4x3xf32>
  %d = qtrain.conv2d %y, %dw, %b stride [2, 3] padding [0, 0, 0, 0] groups 8 {tag} : (tensor<1x8x8x8xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<1x8x3x2xf32>
  func.return %y, %z, %d : tensor<1x8x8x8xf32>, tensor<1x8x4x3xf32>, tensor<1x8x3x2xf32>
}
// CHECK-LABEL:   func.func @conv2d(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>, %dw: tensor<8x1x3x3xf32>) -> (tensor<1x8x8x8xf32>, tensor<1x8x4x3xf32>, tensor<1x8x3x2xf32>) {
// CHECK-NEXT:      %y = qtrain.conv2d %x, %w, %b stride [1, 1] padding [1, 1, 1, 1] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:      %z = qtrain.conv2d %x, %w stride [2, 3] padding [0, 1, 1, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x4x3xf32>
// CHECK-NEXT:      %d = qtrain.conv2d %y, %dw, %b stride [2, 3] padding [0, 0, 0, 0] groups 8 {tag} : (tensor<1x8x8x8xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<1x8x3x2xf32>
// CHECK-NEXT:      func.return %y, %z, %d : tensor<1x8x8x8xf32>, tensor<1x8x4x3xf32>, tensor<1x8x3x2xf32>
// CHECK-NEXT:    }

// GENERIC:      %z = "qtrain.conv2d"(%x, %w) <{stride = array<i64: 2, 3>, padding = array<i64: 0, 1, 1, 0>, groups = 1 : i64}> : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x4x3xf32>
// GENERIC-NEXT: %d = "qtrain.conv2d"(%y, %dw, %b) <{stride = array<i64: 2, 3>, padding = array<i64: 0, 0, 0, 0>, groups = 8 : i64}> {tag} : (tensor<1x8x8x8xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<1x8x3x2xf32>

// ---- dense -----------------------------------------------------------------------------------

func.func @dense(%x: tensor<1x3xf32>, %w: tensor<2x3xf32>, %b: tensor<2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %y = qtrain.dense %x, %w, %b : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %z = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y, %z : tensor<1x2xf32>, tensor<1x2xf32>
}
// CHECK-LABEL:   func.func @dense(%x: tensor<1x3xf32>, %w: tensor<2x3xf32>, %b: tensor<2xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
// CHECK-NEXT:      %y = qtrain.dense %x, %w, %b : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      %z = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:      func.return %y, %z : tensor<1x2xf32>, tensor<1x2xf32>
// CHECK-NEXT:    }

// ---- elementwise: relu, relu6, add -------------------------------------------------------------

func.func @elementwise(%x: tensor<1x8x4x4xf32>, %r: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %a = qtrain.relu %x : tensor<1x8x4x4xf32>
  %b = qtrain.relu6 %a : tensor<1x8x4x4xf32>
  %c = qtrain.add %b, %r : tensor<1x8x4x4xf32>
  func.return %c : tensor<1x8x4x4xf32>
}
// CHECK-LABEL:   func.func @elementwise(%x: tensor<1x8x4x4xf32>, %r: tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> {
// CHECK-NEXT:      %a = qtrain.relu %x : tensor<1x8x4x4xf32>
// CHECK-NEXT:      %b = qtrain.relu6 %a : tensor<1x8x4x4xf32>
// CHECK-NEXT:      %c = qtrain.add %b, %r : tensor<1x8x4x4xf32>
// CHECK-NEXT:      func.return %c : tensor<1x8x4x4xf32>
// CHECK-NEXT:    }

// ---- pooling: maxpool2d, avgpool2d (with/without count_include_pad), global_avgpool -------------

func.func @pool(%x: tensor<1x8x7x7xf32>) -> (tensor<1x8x3x3xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x1x1xf32>) {
  %m = qtrain.maxpool2d %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x8x7x7xf32> -> tensor<1x8x3x3xf32>
  %a = qtrain.avgpool2d %x kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] : tensor<1x8x7x7xf32> -> tensor<1x8x4x4xf32>
  %p = qtrain.avgpool2d %x kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] count_include_pad : tensor<1x8x7x7xf32> -> tensor<1x8x4x4xf32>
  %g = qtrain.global_avgpool %x : tensor<1x8x7x7xf32> -> tensor<1x8x1x1xf32>
  func.return %m, %a, %p, %g : tensor<1x8x3x3xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x1x1xf32>
}
// CHECK-LABEL:   func.func @pool(%x: tensor<1x8x7x7xf32>) -> (tensor<1x8x3x3xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x1x1xf32>) {
// CHECK-NEXT:      %m = qtrain.maxpool2d %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x8x7x7xf32> -> tensor<1x8x3x3xf32>
// CHECK-NEXT:      %a = qtrain.avgpool2d %x kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] : tensor<1x8x7x7xf32> -> tensor<1x8x4x4xf32>
// CHECK-NEXT:      %p = qtrain.avgpool2d %x kernel [3, 3] stride [2, 2] padding [1, 1, 1, 1] count_include_pad : tensor<1x8x7x7xf32> -> tensor<1x8x4x4xf32>
// CHECK-NEXT:      %g = qtrain.global_avgpool %x : tensor<1x8x7x7xf32> -> tensor<1x8x1x1xf32>
// CHECK-NEXT:      func.return %m, %a, %p, %g : tensor<1x8x3x3xf32>, tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>, tensor<1x8x1x1xf32>
// CHECK-NEXT:    }

// GENERIC:      %a = "qtrain.avgpool2d"(%x) <{kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>}> : (tensor<1x8x7x7xf32>) -> tensor<1x8x4x4xf32>
// GENERIC-NEXT: %p = "qtrain.avgpool2d"(%x) <{kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, count_include_pad}> : (tensor<1x8x7x7xf32>) -> tensor<1x8x4x4xf32>

// ---- shape: reshape, flatten ----------------------------------------------------------------

func.func @shape(%x: tensor<1x8x7x7xf32>, %q: tensor<2x3x!qtrain.q<ui8, asym>>) -> (tensor<1x392xf32>, tensor<8x49xf32>, tensor<6x!qtrain.q<ui8, asym>>) {
  %r = qtrain.reshape %x : tensor<1x8x7x7xf32> -> tensor<1x392xf32>
  %f = qtrain.flatten %x axis 2 : tensor<1x8x7x7xf32> -> tensor<8x49xf32>
  %s = qtrain.reshape %q : tensor<2x3x!qtrain.q<ui8, asym>> -> tensor<6x!qtrain.q<ui8, asym>>
  func.return %r, %f, %s : tensor<1x392xf32>, tensor<8x49xf32>, tensor<6x!qtrain.q<ui8, asym>>
}
// CHECK-LABEL:   func.func @shape(%x: tensor<1x8x7x7xf32>, %q: tensor<2x3x!qtrain.q<ui8, asym>>) -> (tensor<1x392xf32>, tensor<8x49xf32>, tensor<6x!qtrain.q<ui8, asym>>) {
// CHECK-NEXT:      %r = qtrain.reshape %x : tensor<1x8x7x7xf32> -> tensor<1x392xf32>
// CHECK-NEXT:      %f = qtrain.flatten %x axis 2 : tensor<1x8x7x7xf32> -> tensor<8x49xf32>
// CHECK-NEXT:      %s = qtrain.reshape %q : tensor<2x3x!qtrain.q<ui8, asym>> -> tensor<6x!qtrain.q<ui8, asym>>
// CHECK-NEXT:      func.return %r, %f, %s : tensor<1x392xf32>, tensor<8x49xf32>, tensor<6x!qtrain.q<ui8, asym>>
// CHECK-NEXT:    }

// GENERIC:      %f = "qtrain.flatten"(%x) <{axis = 2 : i64}> : (tensor<1x8x7x7xf32>) -> tensor<8x49xf32>

// ---- batchnorm (rank 4 and rank 2) ------------------------------------------------------------

func.func @batchnorm(%x: tensor<1x8x4x4xf32>, %v: tensor<2x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %s: tensor<8xf32>) -> (tensor<1x8x4x4xf32>, tensor<2x8xf32>) {
  %y = qtrain.batchnorm %x, %g, %b, %m, %s epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %z = qtrain.batchnorm %v, %g, %b, %m, %s epsilon 1.000000e-03 : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  func.return %y, %z : tensor<1x8x4x4xf32>, tensor<2x8xf32>
}
// CHECK-LABEL:   func.func @batchnorm(%x: tensor<1x8x4x4xf32>, %v: tensor<2x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %s: tensor<8xf32>) -> (tensor<1x8x4x4xf32>, tensor<2x8xf32>) {
// CHECK-NEXT:      %y = qtrain.batchnorm %x, %g, %b, %m, %s epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:      %z = qtrain.batchnorm %v, %g, %b, %m, %s epsilon 1.000000e-03 : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      func.return %y, %z : tensor<1x8x4x4xf32>, tensor<2x8xf32>
// CHECK-NEXT:    }

// GENERIC:      %y = "qtrain.batchnorm"(%x, %g, %b, %m, %s) <{epsilon = 1.000000e-05 : f64}> : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>

// ---- losses: softmax_cross_entropy, mse --------------------------------------------------------

func.func @losses(%logits: tensor<2x10xf32>, %labels: tensor<2xi32>, %target: tensor<2x10xf32>) -> (tensor<f32>, tensor<f32>) {
  %ce = qtrain.softmax_cross_entropy %logits, %labels : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<f32>
  %se = qtrain.mse %logits, %target : (tensor<2x10xf32>, tensor<2x10xf32>) -> tensor<f32>
  func.return %ce, %se : tensor<f32>, tensor<f32>
}
// CHECK-LABEL:   func.func @losses(%logits: tensor<2x10xf32>, %labels: tensor<2xi32>, %target: tensor<2x10xf32>) -> (tensor<f32>, tensor<f32>) {
// CHECK-NEXT:      %ce = qtrain.softmax_cross_entropy %logits, %labels : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<f32>
// CHECK-NEXT:      %se = qtrain.mse %logits, %target : (tensor<2x10xf32>, tensor<2x10xf32>) -> tensor<f32>
// CHECK-NEXT:      func.return %ce, %se : tensor<f32>, tensor<f32>
// CHECK-NEXT:    }

// ---- quantize / dequantize / requantize, all !qtrain.q storages ----------------------------------

func.func @quant(%x: tensor<8x3xf32>, %s: tensor<f32>, %z: tensor<i32>, %sc: tensor<8xf32>, %zc: tensor<8xi32>, %h: tensor<8x3x!qtrain.q<si16, sym>>, %acc: tensor<8x3x!qtrain.q<si32, sym>>) -> (tensor<8x3x!qtrain.q<ui8, asym>>, tensor<8x3x!qtrain.q<si8, sym, axis 0>>, tensor<8x3xf32>, tensor<8x3xf32>, tensor<8x3x!qtrain.q<si8, sym>>) {
  %a = qtrain.quantize %x, %s, %z : (tensor<8x3xf32>, tensor<f32>, tensor<i32>) -> tensor<8x3x!qtrain.q<ui8, asym>>
  %c = qtrain.quantize %x, %sc, %zc : (tensor<8x3xf32>, tensor<8xf32>, tensor<8xi32>) -> tensor<8x3x!qtrain.q<si8, sym, axis 0>>
  %d = qtrain.dequantize %c, %sc, %zc : (tensor<8x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>) -> tensor<8x3xf32>
  %e = qtrain.dequantize %h, %s, %z : (tensor<8x3x!qtrain.q<si16, sym>>, tensor<f32>, tensor<i32>) -> tensor<8x3xf32>
  %r = qtrain.requantize %acc[%s, %z] -> [%s, %z] : (tensor<8x3x!qtrain.q<si32, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<8x3x!qtrain.q<si8, sym>>
  func.return %a, %c, %d, %e, %r : tensor<8x3x!qtrain.q<ui8, asym>>, tensor<8x3x!qtrain.q<si8, sym, axis 0>>, tensor<8x3xf32>, tensor<8x3xf32>, tensor<8x3x!qtrain.q<si8, sym>>
}
// CHECK-LABEL:   func.func @quant(%x: tensor<8x3xf32>, %s: tensor<f32>, %z: tensor<i32>, %sc: tensor<8xf32>, %zc: tensor<8xi32>, %h: tensor<8x3x!qtrain.q<si16, sym>>, %acc: tensor<8x3x!qtrain.q<si32, sym>>) -> (tensor<8x3x!qtrain.q<ui8, asym>>, tensor<8x3x!qtrain.q<si8, sym, axis 0>>, tensor<8x3xf32>, tensor<8x3xf32>, tensor<8x3x!qtrain.q<si8, sym>>) {
// CHECK-NEXT:      %a = qtrain.quantize %x, %s, %z : (tensor<8x3xf32>, tensor<f32>, tensor<i32>) -> tensor<8x3x!qtrain.q<ui8, asym>>
// CHECK-NEXT:      %c = qtrain.quantize %x, %sc, %zc : (tensor<8x3xf32>, tensor<8xf32>, tensor<8xi32>) -> tensor<8x3x!qtrain.q<si8, sym, axis 0>>
// CHECK-NEXT:      %d = qtrain.dequantize %c, %sc, %zc : (tensor<8x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>) -> tensor<8x3xf32>
// CHECK-NEXT:      %e = qtrain.dequantize %h, %s, %z : (tensor<8x3x!qtrain.q<si16, sym>>, tensor<f32>, tensor<i32>) -> tensor<8x3xf32>
// CHECK-NEXT:      %r = qtrain.requantize %acc[%s, %z] -> [%s, %z] : (tensor<8x3x!qtrain.q<si32, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<8x3x!qtrain.q<si8, sym>>
// CHECK-NEXT:      func.return %a, %c, %d, %e, %r : tensor<8x3x!qtrain.q<ui8, asym>>, tensor<8x3x!qtrain.q<si8, sym, axis 0>>, tensor<8x3xf32>, tensor<8x3xf32>, tensor<8x3x!qtrain.q<si8, sym>>
// CHECK-NEXT:    }

// GENERIC:      %r = "qtrain.requantize"(%acc, %s, %z, %s, %z) : (tensor<8x3x!qtrain.q<si32, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<8x3x!qtrain.q<si8, sym>>

// ---- qconv2d (per-channel weights, relu; with and without bias) ----------------------------------

func.func @qconv2d(%x: tensor<1x3x8x8x!qtrain.q<ui8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, %sw: tensor<8xf32>, %zw: tensor<8xi32>, %b: tensor<8xi32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<1x8x8x8x!qtrain.q<ui8, asym>>, tensor<1x8x4x4x!qtrain.q<si8, asym>>) {
  %y = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] stride [1, 1] padding [1, 1, 1, 1] groups 1 activation "relu" : (tensor<1x3x8x8x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x8x8x!qtrain.q<ui8, asym>>
  %n = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw] -> [%sy, %zy] stride [2, 2] padding [0, 0, 1, 1] groups 1 activation "relu6" : (tensor<1x3x8x8x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>>
  func.return %y, %n : tensor<1x8x8x8x!qtrain.q<ui8, asym>>, tensor<1x8x4x4x!qtrain.q<si8, asym>>
}
// CHECK-LABEL:   func.func @qconv2d(%x: tensor<1x3x8x8x!qtrain.q<ui8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, %sw: tensor<8xf32>, %zw: tensor<8xi32>, %b: tensor<8xi32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<1x8x8x8x!qtrain.q<ui8, asym>>, tensor<1x8x4x4x!qtrain.q<si8, asym>>) {
// CHECK-NEXT:      %y = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] stride [1, 1] padding [1, 1, 1, 1] groups 1 activation "relu" : (tensor<1x3x8x8x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x8x8x!qtrain.q<ui8, asym>>
// CHECK-NEXT:      %n = qtrain.qconv2d %x[%sx, %zx], %w[%sw, %zw] -> [%sy, %zy] stride [2, 2] padding [0, 0, 1, 1] groups 1 activation "relu6" : (tensor<1x3x8x8x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>>
// CHECK-NEXT:      func.return %y, %n : tensor<1x8x8x8x!qtrain.q<ui8, asym>>, tensor<1x8x4x4x!qtrain.q<si8, asym>>
// CHECK-NEXT:    }

// GENERIC:      %y = "qtrain.qconv2d"(%x, %sx, %zx, %w, %sw, %zw, %b, %sy, %zy) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, activation = "relu"}> : (tensor<1x3x8x8x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x8x8x!qtrain.q<ui8, asym>>
// GENERIC-NEXT: %n = "qtrain.qconv2d"(%x, %sx, %zx, %w, %sw, %zw, %sy, %zy) <{stride = array<i64: 2, 2>, padding = array<i64: 0, 0, 1, 1>, groups = 1 : i64, activation = "relu6"}> : (tensor<1x3x8x8x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>>

// ---- qdense (per-tensor weights, bias, activation none; and without bias) -----------------------

func.func @qdense(%x: tensor<1x3x!qtrain.q<si8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %w: tensor<2x3x!qtrain.q<si8, sym>>, %sw: tensor<f32>, %zw: tensor<i32>, %b: tensor<2xi32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<1x2x!qtrain.q<si8, asym>>, tensor<1x2x!qtrain.q<si8, asym>>) {
  %y = qtrain.qdense %x[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] activation "none" : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<2xi32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
  %n = qtrain.qdense %x[%sx, %zx], %w[%sw, %zw] -> [%sy, %zy] activation "relu" : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
  func.return %y, %n : tensor<1x2x!qtrain.q<si8, asym>>, tensor<1x2x!qtrain.q<si8, asym>>
}
// CHECK-LABEL:   func.func @qdense(%x: tensor<1x3x!qtrain.q<si8, asym>>, %sx: tensor<f32>, %zx: tensor<i32>, %w: tensor<2x3x!qtrain.q<si8, sym>>, %sw: tensor<f32>, %zw: tensor<i32>, %b: tensor<2xi32>, %sy: tensor<f32>, %zy: tensor<i32>) -> (tensor<1x2x!qtrain.q<si8, asym>>, tensor<1x2x!qtrain.q<si8, asym>>) {
// CHECK-NEXT:      %y = qtrain.qdense %x[%sx, %zx], %w[%sw, %zw], %b -> [%sy, %zy] activation "none" : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<2xi32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
// CHECK-NEXT:      %n = qtrain.qdense %x[%sx, %zx], %w[%sw, %zw] -> [%sy, %zy] activation "relu" : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
// CHECK-NEXT:      func.return %y, %n : tensor<1x2x!qtrain.q<si8, asym>>, tensor<1x2x!qtrain.q<si8, asym>>
// CHECK-NEXT:    }

// GENERIC:      %y = "qtrain.qdense"(%x, %sx, %zx, %w, %sw, %zw, %b, %sy, %zy) <{activation = "none"}> : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<2xi32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>

// The module closes right after the last function: nothing was added or reordered.
// CHECK-NEXT: }
