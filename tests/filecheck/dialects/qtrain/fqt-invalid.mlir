// One case per verifier message of dialects/qtrain_fqt.py (every `raise _err(...)`, the
// shared helpers _scalar/_range/_q8/_require_acc/_verify_select included), plus the
// qtrain.py helpers the FQT verifiers reach. --verify-diagnostics prints the message alone
// on the first line of each failing chunk, then the IR; every CHECK is that whole first
// line (--match-full-lines), so a changed message or a case that stops failing breaks the
// test. Ops with several optional operands have no custom syntax: they are written in the
// generic form.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

// ==== shared operand checks ======================================================================

// _scalar: a scale must be tensor<f32>
func.func @scalar_shape(%a: tensor<2xf32>, %b: tensor<f32>) -> tensor<f32> {
  %s = qtrain.scale_mul %a, %b : (tensor<2xf32>, tensor<f32>) -> tensor<f32>
  func.return %s : tensor<f32>
}
// CHECK: qtrain.scale_mul: lhs must be tensor<f32>, got tensor<2xf32>

// -----

// _range: a range is tensor<2xf32>
func.func @range_shape(%x: tensor<2x3xf32>) -> tensor<3xf32> {
  %r = qtrain.minmax %x : (tensor<2x3xf32>) -> tensor<3xf32>
  func.return %r : tensor<3xf32>
}
// CHECK: qtrain.minmax: result must be a range tensor<2xf32>, got tensor<3xf32>

// -----

// _q8: 8-bit storage
func.func @q8_storage(%x: tensor<2x3x!qtrain.q<si16, sym>>, %z: tensor<i32>, %w: tensor<4x3x!qtrain.q<si8, sym>>) -> tensor<2x4x!qtrain.q<si32, sym>> {
  %a = "qtrain.qdense_acc"(%x, %z, %w, %z) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si16, sym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x4x!qtrain.q<si32, sym>>
  func.return %a : tensor<2x4x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_acc: input must have 8-bit storage, got !qtrain.q<si16, sym>

// -----

// _q8: per-tensor quantization
func.func @q8_per_channel(%e: tensor<2x4x!qtrain.q<si8, asym, axis 1>>, %z: tensor<i32>, %k: tensor<i32>) -> tensor<4xi32> {
  %i = qtrain.topk_structures %e[%z], %k : (tensor<2x4x!qtrain.q<si8, asym, axis 1>>, tensor<i32>, tensor<i32>) -> tensor<4xi32>
  func.return %i : tensor<4xi32>
}
// CHECK: qtrain.topk_structures: output error must be quantized per tensor, got !qtrain.q<si8, asym, axis 1>

// -----

// _require_acc: an accumulator is !qtrain.q<si32, sym>
func.func @acc_asym(%a: tensor<2x4x!qtrain.q<si32, asym>>) -> tensor<2x4x!qtrain.q<si32, asym>> {
  %r = qtrain.acc_relu %a : (tensor<2x4x!qtrain.q<si32, asym>>) -> tensor<2x4x!qtrain.q<si32, asym>>
  func.return %r : tensor<2x4x!qtrain.q<si32, asym>>
}
// CHECK: qtrain.acc_relu: input must be an accumulator tensor of !qtrain.q<si32, sym>, got !qtrain.q<si32, asym>

// -----

// _verify_select: the index list without the count
func.func @select_half(%x: tensor<2x3x!qtrain.q<si8, asym>>, %e: tensor<2x4x!qtrain.q<si8, asym>>, %z: tensor<i32>, %idx: tensor<4xi32>) -> tensor<4x3x!qtrain.q<si32, sym>> {
  %g = "qtrain.qdense_grad_weight"(%x, %z, %e, %z, %idx) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xi32>) -> tensor<4x3x!qtrain.q<si32, sym>>
  func.return %g : tensor<4x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_grad_weight: select needs both the index list and the count

// -----

// _verify_select: one index entry per row of the result
func.func @select_shape(%x: tensor<2x3x!qtrain.q<si8, asym>>, %e: tensor<2x4x!qtrain.q<si8, asym>>, %z: tensor<i32>, %idx: tensor<3xi32>, %k: tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>> {
  %g = "qtrain.qdense_grad_weight"(%x, %z, %e, %z, %idx, %k) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<3xi32>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
  func.return %g : tensor<4x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_grad_weight: selection must be tensor<4xi32>, got tensor<3xi32>

// ==== ranges =====================================================================================

// -----

func.func @ema_alpha(%r: tensor<2xf32>, %o: tensor<2xf32>) -> tensor<2xf32> {
  %n = qtrain.ema %r, %o alpha 0.000000e+00 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %n : tensor<2xf32>
}
// CHECK: qtrain.ema: alpha must be in (0, 1], got 0.0

// -----

func.func @range_scale_qtype(%r: tensor<2xf32>) -> tensor<f32> {
  %s = qtrain.range_scale %r for <si32, sym> : (tensor<2xf32>) -> tensor<f32>
  func.return %s : tensor<f32>
}
// CHECK: qtrain.range_scale: quantized type must be 8- or 16-bit per tensor, got !qtrain.q<si32, sym>

// ==== forward ====================================================================================

// -----

func.func @bias_without_scale(%x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %w: tensor<8x2x3x3x!qtrain.q<si8, sym>>, %b: tensor<8xf32>) -> tensor<1x8x6x6x!qtrain.q<si32, sym>> {
  %a = "qtrain.qconv2d_acc"(%x, %z, %w, %z, %b) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<8xf32>) -> tensor<1x8x6x6x!qtrain.q<si32, sym>>
  func.return %a : tensor<1x8x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv2d_acc: a bias needs the accumulator scale

// -----

func.func @conv_acc_channels(%x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym>>) -> tensor<1x8x6x6x!qtrain.q<si32, sym>> {
  %a = "qtrain.qconv2d_acc"(%x, %z, %w, %z) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x8x6x6x!qtrain.q<si32, sym>>
  func.return %a : tensor<1x8x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv2d_acc: weight has 3 input channels per group, input has 4 in 2 group(s)

// -----

func.func @dense_acc_features(%x: tensor<2x3x!qtrain.q<si8, asym>>, %z: tensor<i32>, %w: tensor<4x5x!qtrain.q<si8, sym>>) -> tensor<2x4x!qtrain.q<si32, sym>> {
  %a = "qtrain.qdense_acc"(%x, %z, %w, %z) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x5x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x4x!qtrain.q<si32, sym>>
  func.return %a : tensor<2x4x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_acc: input has 3 features but weight expects 5 (weight shape [4, 5])

// -----

func.func @acc_relu_type(%a: tensor<2x4x!qtrain.q<si32, sym>>) -> tensor<2x5x!qtrain.q<si32, sym>> {
  %r = qtrain.acc_relu %a : (tensor<2x4x!qtrain.q<si32, sym>>) -> tensor<2x5x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x5x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.acc_relu: result type must equal the input type

// -----

func.func @requantize_acc_shape(%a: tensor<2x4x!qtrain.q<si32, sym>>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<2x5x!qtrain.q<ui8, asym>> {
  %y = qtrain.requantize_acc %a[%s] -> [%s, %z] : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<2x5x!qtrain.q<ui8, asym>>
  func.return %y : tensor<2x5x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.requantize_acc: input shape [2, 4] and result shape [2, 5] differ

// ==== backward ===================================================================================

// -----

func.func @qrelu_grad_shape(%e: tensor<2x4x!qtrain.q<si8, asym>>, %y: tensor<2x5x!qtrain.q<ui8, asym>>, %z: tensor<i32>) -> tensor<2x4x!qtrain.q<si8, asym>> {
  %d = qtrain.qrelu_grad %e[%z], %y[%z] : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x5x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<2x4x!qtrain.q<si8, asym>>
  func.return %d : tensor<2x4x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qrelu_grad: error shape [2, 4] and output shape [2, 5] differ

// -----

func.func @qrelu_grad_type(%e: tensor<2x4x!qtrain.q<si8, asym>>, %y: tensor<2x4x!qtrain.q<ui8, asym>>, %z: tensor<i32>) -> tensor<2x4x!qtrain.q<ui8, asym>> {
  %d = qtrain.qrelu_grad %e[%z], %y[%z] : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<2x4x!qtrain.q<ui8, asym>>
  func.return %d : tensor<2x4x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.qrelu_grad: result type must equal the output error type

// -----

func.func @dense_grad_input_rows(%e: tensor<2x4x!qtrain.q<si8, asym>>, %w: tensor<5x3x!qtrain.q<si8, sym>>, %z: tensor<i32>) -> tensor<2x3x!qtrain.q<si32, sym>> {
  %d = qtrain.qdense_grad_input %e[%z], %w[%z] : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<5x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<2x3x!qtrain.q<si32, sym>>
  func.return %d : tensor<2x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_grad_input: output error has 4 features but weight has 5 rows

// -----

func.func @conv_grad_input_channels(%e: tensor<1x8x6x6x!qtrain.q<si8, asym>>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym>>, %z: tensor<i32>) -> tensor<1x4x8x8x!qtrain.q<si32, sym>> {
  %d = qtrain.qconv2d_grad_input %e[%z], %w[%z] stride [1, 1] padding [0, 0, 0, 0] groups 2 : (tensor<1x8x6x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x8x8x!qtrain.q<si32, sym>>
  func.return %d : tensor<1x4x8x8x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv2d_grad_input: weight has 3 input channels per group, result has 4 in 2 group(s)

// -----

func.func @dense_grad_weight_batch(%x: tensor<2x3x!qtrain.q<si8, asym>>, %e: tensor<3x4x!qtrain.q<si8, asym>>, %z: tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>> {
  %g = "qtrain.qdense_grad_weight"(%x, %z, %e, %z) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<2x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<3x4x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
  func.return %g : tensor<4x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_grad_weight: input batch 2 and output error batch 3 differ

// -----

func.func @conv_grad_weight_channels(%x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %e: tensor<1x8x6x6x!qtrain.q<si8, asym>>, %z: tensor<i32>) -> tensor<8x3x3x3x!qtrain.q<si32, sym>> {
  %g = "qtrain.qconv2d_grad_weight"(%x, %z, %e, %z) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<8x3x3x3x!qtrain.q<si32, sym>>
  func.return %g : tensor<8x3x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv2d_grad_weight: result has 3 input channels per group, input has 4 in 2 group(s)

// ==== update =====================================================================================

// -----

func.func @grad_stats_rank0(%g: tensor<f32>) -> tensor<1x2xf32> {
  %st = "qtrain.grad_stats"(%g) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<f32>) -> tensor<1x2xf32>
  func.return %st : tensor<1x2xf32>
}
// CHECK: qtrain.grad_stats: gradient must have rank >= 1

// -----

func.func @grad_stats_mode(%g: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %st = "qtrain.grad_stats"(%g) <{mode = "adam", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3xf32>) -> tensor<4x2xf32>
  func.return %st : tensor<4x2xf32>
}
// CHECK: qtrain.grad_stats: mode must be one of standardize, qas, none, got 'adam'

// -----

func.func @grad_stats_acc_scale(%g: tensor<4x3x!qtrain.q<si32, sym>>) -> tensor<4x2xf32> {
  %st = "qtrain.grad_stats"(%g) <{mode = "none", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3x!qtrain.q<si32, sym>>) -> tensor<4x2xf32>
  func.return %st : tensor<4x2xf32>
}
// CHECK: qtrain.grad_stats: mode 'none' needs the scale of the accumulator gradient

// -----

// An f32 gradient needs no gradient scale, but qas always needs the weight scale.
func.func @grad_stats_qas(%g: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %st = "qtrain.grad_stats"(%g) <{mode = "qas", operandSegmentSizes = array<i32: 1, 0, 0, 0, 0>}> : (tensor<4x3xf32>) -> tensor<4x2xf32>
  func.return %st : tensor<4x2xf32>
}
// CHECK: qtrain.grad_stats: mode 'qas' needs the weight scale

// -----

func.func @qsgd_range_weight(%w: tensor<4x3xf32>, %s: tensor<f32>, %z: tensor<i32>, %g: tensor<4x3xf32>, %st: tensor<4x2xf32>) -> tensor<2xf32> {
  %r = "qtrain.qsgd_range"(%w, %s, %z, %g, %st) <{lr = 1.000000e-02 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<4x3xf32>, tensor<f32>, tensor<i32>, tensor<4x3xf32>, tensor<4x2xf32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qsgd_range: weight must be an 8-bit per-tensor quantized tensor, got tensor<4x3xf32>

// -----

func.func @qsgd_range_grad_shape(%w: tensor<4x3x!qtrain.q<si8, sym>>, %s: tensor<f32>, %z: tensor<i32>, %g: tensor<4x2xf32>, %st: tensor<4x2xf32>) -> tensor<2xf32> {
  %r = "qtrain.qsgd_range"(%w, %s, %z, %g, %st) <{lr = 1.000000e-02 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qsgd_range: gradient shape [4, 2] differs from weight shape [4, 3]

// -----

func.func @qsgd_range_lr(%w: tensor<4x3x!qtrain.q<si8, sym>>, %s: tensor<f32>, %z: tensor<i32>, %g: tensor<4x3xf32>, %st: tensor<4x2xf32>) -> tensor<2xf32> {
  %r = "qtrain.qsgd_range"(%w, %s, %z, %g, %st) <{lr = 0.000000e+00 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<4x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<4x3xf32>, tensor<4x2xf32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qsgd_range: lr must be positive, got 0.0

// -----

func.func @qsgd_update_missing(%g: tensor<4x3xf32>, %st: tensor<4x2xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  "qtrain.qsgd_update"(%g, %st, %s, %z, %s, %z) <{param = @nope, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<4x3xf32>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qsgd_update: no qtrain.param named @nope

// -----

qtrain.param @w frozen : tensor<4x3x!qtrain.q<si8, sym>> = dense<1> : tensor<4x3xi8>
func.func @qsgd_update_frozen(%g: tensor<4x3xf32>, %st: tensor<4x2xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  "qtrain.qsgd_update"(%g, %st, %s, %z, %s, %z) <{param = @w, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<4x3xf32>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qsgd_update: @w is not a trainable qtrain.param

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, sym>> = dense<1> : tensor<4x3xi8>
func.func @qsgd_update_rounding(%g: tensor<4x3xf32>, %st: tensor<4x2xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  "qtrain.qsgd_update"(%g, %st, %s, %z, %s, %z) <{param = @w, lr = 1.000000e-02 : f64, rounding = "up", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<4x3xf32>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qsgd_update: rounding must be one of nearest, stochastic, got 'up'

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, sym>> = dense<1> : tensor<4x3xi8>
func.func @qsgd_update_no_step(%g: tensor<4x3xf32>, %st: tensor<4x2xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  "qtrain.qsgd_update"(%g, %st, %s, %z, %s, %z) <{param = @w, lr = 1.000000e-02 : f64, rounding = "stochastic", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<4x3xf32>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qsgd_update: stochastic rounding needs the step operand (the random stream position)

// ==== partial updates ============================================================================

// -----

func.func @topk_count_lambdas(%l: tensor<f32>, %m: tensor<f32>) -> tensor<i32> {
  %k = qtrain.topk_count %l, %m lambda_min 8.000000e-01 lambda_max 5.000000e-01 structures 8 : (tensor<f32>, tensor<f32>) -> tensor<i32>
  func.return %k : tensor<i32>
}
// CHECK: qtrain.topk_count: need 0 <= lambda_min <= lambda_max <= 1, got 0.8 and 0.5

// -----

func.func @topk_count_structures(%l: tensor<f32>, %m: tensor<f32>) -> tensor<i32> {
  %k = qtrain.topk_count %l, %m lambda_min 5.000000e-01 lambda_max 1.000000e+00 structures 0 : (tensor<f32>, tensor<f32>) -> tensor<i32>
  func.return %k : tensor<i32>
}
// CHECK: qtrain.topk_count: structures must be >= 1, got 0

// -----

func.func @topk_structures_result(%e: tensor<2x4x!qtrain.q<si8, asym>>, %z: tensor<i32>, %k: tensor<i32>) -> tensor<3xi32> {
  %i = qtrain.topk_structures %e[%z], %k : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<3xi32>
  func.return %i : tensor<3xi32>
}
// CHECK: qtrain.topk_structures: result must be tensor<4xi32>, got tensor<3xi32>

// ==== qtrain.py helpers reached through the FQT verifiers ========================================

// -----

func.func @not_quantized(%e: tensor<2x4xf32>, %y: tensor<2x4x!qtrain.q<ui8, asym>>, %z: tensor<i32>) -> tensor<2x4xf32> {
  %d = qtrain.qrelu_grad %e[%z], %y[%z] : (tensor<2x4xf32>, tensor<i32>, tensor<2x4x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<2x4xf32>
  func.return %d : tensor<2x4xf32>
}
// CHECK: qtrain.qrelu_grad: output error must be a quantized tensor (!qtrain.q), got f32

// -----

func.func @minmax_not_f32(%x: tensor<2x3xi32>) -> tensor<2xf32> {
  %r = qtrain.minmax %x : (tensor<2x3xi32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.minmax: input must have element type f32, got i32

// -----

func.func @topk_structures_rank(%e: tensor<2x4x3x!qtrain.q<si8, asym>>, %z: tensor<i32>, %k: tensor<i32>) -> tensor<4xi32> {
  %i = qtrain.topk_structures %e[%z], %k : (tensor<2x4x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<4xi32>
  func.return %i : tensor<4xi32>
}
// CHECK: qtrain.topk_structures: output error must have rank 2 or 4, got shape [2, 4, 3]

// -----

func.func @conv_acc_result_shape(%x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %w: tensor<8x2x3x3x!qtrain.q<si8, sym>>) -> tensor<1x8x8x8x!qtrain.q<si32, sym>> {
  %a = "qtrain.qconv2d_acc"(%x, %z, %w, %z) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x8x8x8x!qtrain.q<si32, sym>>
  func.return %a : tensor<1x8x8x8x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv2d_acc: result has shape [1, 8, 8, 8] but expected [1, 8, 6, 6]

// -----

func.func @conv_grad_weight_groups(%x: tensor<1x4x8x8x!qtrain.q<ui8, asym>>, %e: tensor<1x6x6x6x!qtrain.q<si8, asym>>, %z: tensor<i32>) -> tensor<6x1x3x3x!qtrain.q<si32, sym>> {
  %g = "qtrain.qconv2d_grad_weight"(%x, %z, %e, %z) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x8x8x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x6x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<6x1x3x3x!qtrain.q<si32, sym>>
  func.return %g : tensor<6x1x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv2d_grad_weight: groups 4 must divide input channels 4 and output channels 6

// -----

func.func @conv_grad_input_stride(%e: tensor<1x8x6x6x!qtrain.q<si8, asym>>, %w: tensor<8x2x3x3x!qtrain.q<si8, sym>>, %z: tensor<i32>) -> tensor<1x4x8x8x!qtrain.q<si32, sym>> {
  %d = qtrain.qconv2d_grad_input %e[%z], %w[%z] stride [0, 1] padding [0, 0, 0, 0] groups 2 : (tensor<1x8x6x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<8x2x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x8x8x!qtrain.q<si32, sym>>
  func.return %d : tensor<1x4x8x8x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv2d_grad_input: stride values must be >= 1, got [0, 1]

// ==== fused update on a held grid ==================================================================

// -----

func.func @fused_no_param(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: no qtrain.param named @w

// -----

qtrain.param @w frozen : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
func.func @fused_frozen(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: @w is not a trainable qtrain.param

// -----

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.0> : tensor<4x3xf32>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
func.func @fused_float_param(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: @w must be an 8-bit per-tensor or per-row (axis 0) quantized parameter, got tensor<4x3xf32>

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
func.func @fused_no_rows(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: @w.row_range must be a qtrain.state holding the rows' [min, max] (tensor<4x2xi32>)

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xf32> = dense<0.0> : tensor<4x2xf32>
func.func @fused_rows_type(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: @w.row_range must have type tensor<4x2xi32> (one [min, max] per row of @w), got tensor<4x2xf32>

// -----

qtrain.param @w trainable : tensor<4x5x!qtrain.q<si8, asym>> = dense<1> : tensor<4x5xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
func.func @fused_shape(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: @w has shape [4, 5] but input and output error give [4, 3]

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
func.func @fused_lr(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 0.000000e+00 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: lr must be positive, got 0.0

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
func.func @fused_rounding(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "up", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: rounding must be one of nearest, stochastic, got 'up'

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
func.func @fused_no_step(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "stochastic", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: stochastic rounding needs the step operand (the random stream position)

// -----

func.func @fused_batch(%x: tensor<2x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<2x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: input batch 2 and output error batch 1 differ

// -----

qtrain.param @c trainable : tensor<8x3x3x3x!qtrain.q<si8, sym>> = dense<1> : tensor<8x3x3x3xi8>
qtrain.state @c.row_range : tensor<8x2xi32> = dense<0> : tensor<8x2xi32>
func.func @fused_conv_channels(%x: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x8x4x4x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qconv2d_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @c, row_range = @c.row_range, stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 1 : i64, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x4x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qconv2d_grad_weight_sgd: @c has shape [8, 3, 3, 3] but the input has 2 channels in 1 group(s) and the output error 8

// -----

qtrain.param @c trainable : tensor<8x2x3x3x!qtrain.q<si8, sym>> = dense<1> : tensor<8x2x3x3xi8>
qtrain.state @c.row_range : tensor<8x2xi32> = dense<0> : tensor<8x2xi32>
func.func @fused_conv_spatial(%x: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x8x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>) {
  "qtrain.qconv2d_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %z) <{param = @c, row_range = @c.row_range, stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 1 : i64, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x8x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qconv2d_grad_weight_sgd: output error has shape [1, 8, 3, 3], expected [1, 8, 4, 4]

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
qtrain.state @w.scale : tensor<f32> = dense<1.0> : tensor<f32>
qtrain.state @w.zero_point : tensor<i32> = dense<0> : tensor<i32>
qtrain.qweight_regrid @w rows @w.row_range scale @w.scale zero_point @w.zero_point headroom 2.000000e+00 rounding "nearest" seed 0
// CHECK: qtrain.qweight_regrid: headroom must be in [0, 1], got 2.0

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
qtrain.state @w.scale : tensor<i32> = dense<1> : tensor<i32>
qtrain.state @w.zero_point : tensor<i32> = dense<0> : tensor<i32>
qtrain.qweight_regrid @w rows @w.row_range scale @w.scale zero_point @w.zero_point headroom 1.250000e-01 rounding "nearest" seed 0
// CHECK: qtrain.qweight_regrid: scale @w.scale must be a qtrain.state of type tensor<f32>

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
qtrain.state @w.scale : tensor<f32> = dense<1.0> : tensor<f32>
qtrain.qweight_regrid @w rows @w.row_range scale @w.scale zero_point @w.zero_point headroom 1.250000e-01 rounding "nearest" seed 0
// CHECK: qtrain.qweight_regrid: zero_point @w.zero_point must be a qtrain.state of type tensor<i32>

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
qtrain.state @w.scale : tensor<f32> = dense<1.0> : tensor<f32>
qtrain.state @w.zero_point : tensor<i32> = dense<0> : tensor<i32>
qtrain.qweight_regrid @w rows @w.row_range scale @w.scale zero_point @w.zero_point headroom 0.000000e+00 rounding "stochastic" seed 0
// CHECK: qtrain.qweight_regrid: stochastic rounding needs the step operand (the random stream position)

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
qtrain.state @w.scale : tensor<f32> = dense<1.0> : tensor<f32>
qtrain.state @w.zero_point : tensor<i32> = dense<0> : tensor<i32>
qtrain.qweight_regrid @w rows @w.row_range scale @w.scale zero_point @w.zero_point headroom 0.000000e+00 rounding "up" seed 0
// CHECK: qtrain.qweight_regrid: rounding must be one of nearest, stochastic, got 'up'

// -----

// ==== streamed accumulators and the bias gradient from an 8-bit error ============================

func.func @f(%x: tensor<1x4x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x4x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_acc_stream: weight has 2 input channels per group, input has 4 in 4 group(s)

// -----

func.func @f(%x: tensor<1x4x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x1x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 4 : i64, relu, relu6, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x4x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x1x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_acc_stream: relu and relu6 are exclusive

// -----

func.func @f(%x: tensor<1x3x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x3x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_acc_stream: weight has 2 input channels per group, input has 3 in 1 group(s)

// -----

func.func @f(%x: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<ui8, asym>> {
  %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s, %s) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 0>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<ui8, asym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.qconv2d_acc_stream: an output scale needs the output zero-point

// -----

func.func @f(%x: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<1x4x3x3x!qtrain.q<ui8, asym>> {
  %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s, %s, %zx) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x3x3x!qtrain.q<ui8, asym>>
  func.return %r : tensor<1x4x3x3x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.qconv2d_acc_stream: result has shape [1, 4, 3, 3], the accumulator [1, 4, 6, 6]

// -----

func.func @f(%x: tensor<1x2x6x6x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<4xf32> {
  %r = "qtrain.qconv2d_acc_stream"(%x, %zx, %w, %zw, %s) <{stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x2x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<4xf32>
  func.return %r : tensor<4xf32>
}
// CHECK: qtrain.qconv2d_acc_stream: result must be a range tensor<2xf32>, got tensor<4xf32>

// -----

func.func @f(%e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<3xf32> {
  %g = qtrain.qgrad_bias %e[%s, %z] : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<3xf32>
  func.return %g : tensor<3xf32>
}
// CHECK: qtrain.qgrad_bias: result has shape [3] but expected [4]

// -----

func.func @f(%e: tensor<4x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %g = "qtrain.qgrad_bias"(%e, %s, %z) : (tensor<4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>) -> tensor<4xf32>
  func.return %g : tensor<4xf32>
}
// CHECK: qtrain.qgrad_bias: output error must have rank 2 or 4, got shape [4]

// -----

func.func @f(%e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %ze, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 2 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_grad_input_stream: streams groups = 1 only, got 2

// -----

func.func @f(%e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %w: tensor<5x2x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %ze, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<5x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_grad_input_stream: weight has 5 output channels, the output error 4

// -----

func.func @f(%e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %ze, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 9, 9>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_grad_input_stream: output error shape [1, 4, 3, 3] is not the conv output of an input [1, 2, 9, 9] with weight [4, 2, 3, 3]

// -----

func.func @f(%e: tensor<1x4x3x3x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %w: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>) -> tensor<1x2x5x5x!qtrain.q<si8, asym>> {
  %r = "qtrain.qconv2d_grad_input_stream"(%e, %ze, %w, %ze, %s, %s, %ze) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, groups = 1 : i64, input_hw = array<i64: 6, 6>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>}> : (tensor<1x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x2x5x5x!qtrain.q<si8, asym>>
  func.return %r : tensor<1x2x5x5x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qconv2d_grad_input_stream: result has shape [1, 2, 5, 5], the input gradient [1, 2, 6, 6]

// -----

// ==== packed relu masks and the fused conv -> depthwise stream ====================================

func.func @f(%y: tensor<1x9x!qtrain.q<ui8, asym>>, %zy: tensor<i32>) -> tensor<1xui8> {
  %m = qtrain.qrelu_mask %y[%zy] : (tensor<1x9x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<1xui8>
  func.return %m : tensor<1xui8>
}
// CHECK: qtrain.qrelu_mask: result must be tensor<2xui8> (one bit per element), got tensor<1xui8>

// -----

func.func @f(%e: tensor<1x9x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %m: tensor<2xi8>) -> tensor<1x9x!qtrain.q<si8, asym>> {
  %d = qtrain.qmask_grad %e[%ze], %m : (tensor<1x9x!qtrain.q<si8, asym>>, tensor<i32>, tensor<2xi8>) -> tensor<1x9x!qtrain.q<si8, asym>>
  func.return %d : tensor<1x9x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qmask_grad: mask must be tensor<2xui8> for 9 errors, got tensor<2xi8>

// -----

func.func @f(%x: tensor<1x2x4x4x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %w1: tensor<4x2x1x1x!qtrain.q<si8, asym>>, %w2: tensor<4x2x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_pw_dw_stream"(%x, %z, %w1, %z, %s, %s, %z, %w2, %z, %s) <{stride1 = array<i64: 1, 1>, padding1 = array<i64: 0, 0, 0, 0>, stride2 = array<i64: 1, 1>, padding2 = array<i64: 1, 1, 1, 1>, act1 = "relu6", act2 = "relu6", h_type = !qtrain.q<ui8, asym>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x2x4x4x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x1x1x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<4x2x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_pw_dw_stream: weight2 must be a depthwise [4, 1, kh, kw] weight, got [4, 2, 3, 3]

// -----

func.func @f(%x: tensor<1x2x4x4x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %w1: tensor<4x2x1x1x!qtrain.q<si8, asym>>, %w2: tensor<4x1x3x3x!qtrain.q<si8, asym>>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv2d_pw_dw_stream"(%x, %z, %w1, %z, %s, %s, %z, %w2, %z, %s) <{stride1 = array<i64: 1, 1>, padding1 = array<i64: 0, 0, 0, 0>, stride2 = array<i64: 1, 1>, padding2 = array<i64: 1, 1, 1, 1>, act1 = "gelu", act2 = "relu6", h_type = !qtrain.q<ui8, asym>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x2x4x4x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x2x1x1x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<4x1x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv2d_pw_dw_stream: act1 must be one of none, relu, relu6, got 'gelu'

// ==== per-channel weights (qtrain-quantize weights=per-channel) ================================

// -----

func.func @scale_mul_rank2(%a: tensor<f32>, %b: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %s = qtrain.scale_mul %a, %b : (tensor<f32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  func.return %s : tensor<2x2xf32>
}
// CHECK: qtrain.scale_mul: rhs must be tensor<f32> or a per-channel tensor<Cxf32>, got tensor<2x2xf32>

// -----

func.func @scale_mul_result(%a: tensor<f32>, %b: tensor<3xf32>) -> tensor<f32> {
  %s = qtrain.scale_mul %a, %b : (tensor<f32>, tensor<3xf32>) -> tensor<f32>
  func.return %s : tensor<f32>
}
// CHECK: qtrain.scale_mul: result type must equal the rhs type tensor<3xf32>, got tensor<f32>

// -----

func.func @scale_max_scalar(%a: tensor<f32>) -> tensor<f32> {
  %s = qtrain.scale_max %a : (tensor<f32>) -> tensor<f32>
  func.return %s : tensor<f32>
}
// CHECK: qtrain.scale_max: input must be per-channel scales tensor<Cxf32>, got tensor<f32>

// -----

func.func @minmax_channels(%acc: tensor<1x4x!qtrain.q<si32, sym>>, %s: tensor<3xf32>) -> tensor<2xf32> {
  %r = qtrain.minmax %acc scale %s : (tensor<1x4x!qtrain.q<si32, sym>>, tensor<3xf32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.minmax: scale must be tensor<f32> or tensor<4xf32> (one per channel), got tensor<3xf32>

// -----

func.func @acc_per_channel_zp(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x3x!qtrain.q<si8, asym, axis 0>>, %zw: tensor<i32>) -> tensor<1x4x!qtrain.q<si32, sym>> {
  %a = "qtrain.qdense_acc"(%x, %zx, %w, %zw) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, asym, axis 0>>, tensor<i32>) -> tensor<1x4x!qtrain.q<si32, sym>>
  func.return %a : tensor<1x4x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_acc: weight zero-point of per-channel weights must be tensor<4xi32> (one per channel), got tensor<i32>

// -----

func.func @acc_axis1(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x3x!qtrain.q<si8, asym, axis 1>>, %zw: tensor<3xi32>) -> tensor<1x4x!qtrain.q<si32, sym>> {
  %a = "qtrain.qdense_acc"(%x, %zx, %w, %zw) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, asym, axis 1>>, tensor<3xi32>) -> tensor<1x4x!qtrain.q<si32, sym>>
  func.return %a : tensor<1x4x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_acc: weight must be quantized per tensor or per output channel (axis 0), got !qtrain.q<si8, asym, axis 1>

// -----

func.func @acc_bias_scale(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<4x3x!qtrain.q<si8, asym, axis 0>>, %zw: tensor<4xi32>, %b: tensor<4xf32>, %s: tensor<3xf32>) -> tensor<1x4x!qtrain.q<si32, sym>> {
  %a = "qtrain.qdense_acc"(%x, %zx, %w, %zw, %b, %s) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, asym, axis 0>>, tensor<4xi32>, tensor<4xf32>, tensor<3xf32>) -> tensor<1x4x!qtrain.q<si32, sym>>
  func.return %a : tensor<1x4x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qdense_acc: accumulator scale of per-channel weights must be tensor<4xf32> (one per channel), got tensor<3xf32>

// -----

func.func @rescale_scales(%e: tensor<1x4x!qtrain.q<si8, asym>>, %z: tensor<i32>, %s: tensor<3xf32>) -> tensor<1x4x!qtrain.q<si16, sym>> {
  %y = qtrain.qrescale_channels %e[%z], %s shift 7 : (tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<3xf32>) -> tensor<1x4x!qtrain.q<si16, sym>>
  func.return %y : tensor<1x4x!qtrain.q<si16, sym>>
}
// CHECK: qtrain.qrescale_channels: weight scale must be the 4 per-channel scales tensor<4xf32>, got tensor<3xf32>

// -----

func.func @rescale_result(%e: tensor<1x4x!qtrain.q<si8, asym>>, %z: tensor<i32>, %s: tensor<4xf32>) -> tensor<1x4x!qtrain.q<si16, asym>> {
  %y = qtrain.qrescale_channels %e[%z], %s shift 7 : (tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>) -> tensor<1x4x!qtrain.q<si16, asym>>
  func.return %y : tensor<1x4x!qtrain.q<si16, asym>>
}
// CHECK: qtrain.qrescale_channels: result must be !qtrain.q<si16, sym> per tensor, got !qtrain.q<si16, asym>

// -----

func.func @rescale_shift(%e: tensor<1x4x!qtrain.q<si8, asym>>, %z: tensor<i32>, %s: tensor<4xf32>) -> tensor<1x4x!qtrain.q<si16, sym>> {
  %y = qtrain.qrescale_channels %e[%z], %s shift 16 : (tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>) -> tensor<1x4x!qtrain.q<si16, sym>>
  func.return %y : tensor<1x4x!qtrain.q<si16, sym>>
}
// CHECK: qtrain.qrescale_channels: shift must be in [0, 15], got 16

// -----

func.func @rescale_rank1(%e: tensor<4x!qtrain.q<si8, asym>>, %z: tensor<i32>, %s: tensor<4xf32>) -> tensor<4x!qtrain.q<si16, sym>> {
  %y = qtrain.qrescale_channels %e[%z], %s shift 7 : (tensor<4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>) -> tensor<4x!qtrain.q<si16, sym>>
  func.return %y : tensor<4x!qtrain.q<si16, sym>>
}
// CHECK: qtrain.qrescale_channels: input must have channels on axis 1, got shape [4]

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym, axis 0>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
func.func @fused_per_row_scale(%x: tensor<1x3x!qtrain.q<ui8, asym>>, %z: tensor<i32>, %e: tensor<1x4x!qtrain.q<si8, asym>>, %s: tensor<f32>, %zw: tensor<4xi32>) {
  "qtrain.qdense_grad_weight_sgd"(%x, %z, %e, %z, %s, %s, %zw) <{param = @w, row_range = @w.row_range, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<4xi32>) -> ()
  func.return
}
// CHECK: qtrain.qdense_grad_weight_sgd: weight scale of per-channel weights must be tensor<4xf32> (one per channel), got tensor<f32>

// -----

qtrain.param @w trainable : tensor<4x3x!qtrain.q<si8, asym, axis 0>> = dense<1> : tensor<4x3xi8>
qtrain.state @w.row_range : tensor<4x2xi32> = dense<0> : tensor<4x2xi32>
qtrain.state @w.scale : tensor<f32> = dense<1.0> : tensor<f32>
qtrain.state @w.zero_point : tensor<4xi32> = dense<0> : tensor<4xi32>
qtrain.qweight_regrid @w rows @w.row_range scale @w.scale zero_point @w.zero_point headroom 0.000000e+00 rounding "nearest" seed 0
// CHECK: qtrain.qweight_regrid: scale @w.scale must be a qtrain.state of type tensor<4xf32> (one per row of the per-channel @w)
