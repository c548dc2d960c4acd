// One case per verifier message of dialects/qtrain.py. --verify-diagnostics prints the
// message alone on the first line of each failing chunk, then the IR; every CHECK is that
// whole first line (--match-full-lines), so a changed message or a case that stops failing
// breaks the test. The generic syntax is used where the custom one cannot express the input.
// RUN: odtc-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

// ==== !qtrain.q ===============================================================================

func.func @q_signless(%a: tensor<2x!qtrain.q<i8, sym>>) {
  func.return
}
// CHECK: qtrain.q: storage must be si8, ui8, si16 or si32, got i8

// -----

func.func @q_width(%a: tensor<2x!qtrain.q<si4, sym>>) {
  func.return
}
// CHECK: qtrain.q: storage must be si8, ui8, si16 or si32, got si4

// (A negative `axis N` is rejected by the parser, see invalid-syntax.mlir; an axis beyond
// the tensor's rank is an operand check, see "operand checks shared by all ops" below.)

// ==== qtrain.param / qtrain.state ===============================================================

// -----

qtrain.param @p frozen : tensor<2xf32> = dense<[1, 2]> : tensor<2xi32>
// CHECK: qtrain.param: initial value has element type i32 but the symbol is f32

// -----

qtrain.state @s : tensor<2xf32> = dense<1.000000e+00> : tensor<3xf32>
// CHECK: qtrain.state: initial value has shape [3] but the symbol has shape [2]

// -----

qtrain.param @dyn trainable : tensor<?x4xf32> = #qtrain.npz<"w.npz", "dyn">
// CHECK: qtrain.param: @dyn has a dynamic shape; odtc needs static shapes

// -----

qtrain.state @sdyn : tensor<?xf32> = #qtrain.npz<"s.npz", "sdyn">
// CHECK: qtrain.state: @sdyn has a dynamic shape; odtc needs static shapes

// -----

qtrain.param @w trainable : tensor<8x4xf32> = #qtrain.npz<"w.npz", "w"> {channels = array<i32: 0, 1>}
// CHECK: qtrain.param: @w: channels must be array<i64: ...>

// -----

qtrain.param @w trainable : tensor<8x4xf32> = #qtrain.npz<"w.npz", "w"> {channels = array<i64: 0, 8>}
// CHECK: qtrain.param: @w: channels must be a non-empty increasing list in [0, 8), got [0, 8]

// -----

qtrain.param @s trainable : tensor<f32> = dense<1.000000e+00> : tensor<f32> {channels = array<i64: 0>}
// CHECK: qtrain.param: @s: channels needs a parameter of rank >= 1

// -----

// A quantized symbol's initial value holds the stored integers, in an integer tensor.
qtrain.param @q frozen : tensor<2x!qtrain.q<si8, sym>> = dense<1.000000e+00> : tensor<2xf32>
// CHECK: qtrain.param: initial value of a quantized symbol must be integers, got f32

// -----

qtrain.param @q frozen : tensor<2x!qtrain.q<si8, sym>> = dense<[-129, 1]> : tensor<2xi32>
// CHECK: qtrain.param: initial value -129 is outside the storage range [-128, 127] of !qtrain.q<si8, sym>

// -----

qtrain.state @q : tensor<2x!qtrain.q<ui8, asym>> = dense<[1, 256]> : tensor<2xi32>
// CHECK: qtrain.state: initial value 256 is outside the storage range [0, 255] of !qtrain.q<ui8, asym>

// -----

qtrain.param @q frozen : tensor<2x!qtrain.q<si8, sym>> = dense<1> : tensor<3xi8>
// CHECK: qtrain.param: initial value has shape [3] but the symbol has shape [2]

// ==== qtrain.load / qtrain.store ==================================================================

// -----

func.func @load_missing() -> tensor<2xf32> {
  %w = qtrain.load @nope : tensor<2xf32>
  func.return %w : tensor<2xf32>
}
// CHECK: qtrain.load: no qtrain.param or qtrain.state named @nope

// -----

func.func @load_func() -> tensor<2xf32> {
  %w = qtrain.load @load_func : tensor<2xf32>
  func.return %w : tensor<2xf32>
}
// CHECK: qtrain.load: @load_func is a func.func, not a qtrain.param or qtrain.state

// -----

qtrain.param @w frozen : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @load_type() -> tensor<3xf32> {
  %w = qtrain.load @w : tensor<3xf32>
  func.return %w : tensor<3xf32>
}
// CHECK: qtrain.load: @w has type tensor<2xf32> but the op uses tensor<3xf32>

// -----

qtrain.state @m : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @store_type(%v: tensor<2xi32>) {
  qtrain.store %v, @m : tensor<2xi32>
  func.return
}
// CHECK: qtrain.store: @m has type tensor<2xf32> but the op uses tensor<2xi32>

// -----

func.func @store_missing(%v: tensor<2xf32>) {
  qtrain.store %v, @nope : tensor<2xf32>
  func.return
}
// CHECK: qtrain.store: no qtrain.param or qtrain.state named @nope

// -----

qtrain.param @w frozen : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @store_frozen(%v: tensor<2xf32>) {
  qtrain.store %v, @w : tensor<2xf32>
  func.return
}
// CHECK: qtrain.store: @w is a frozen parameter and cannot be written

// ==== operand checks shared by all ops ============================================================

// -----

func.func @dynamic(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %y = qtrain.relu %x : tensor<?x4xf32>
  func.return %y : tensor<?x4xf32>
}
// CHECK: qtrain.relu: input has a dynamic shape tensor<?x4xf32>; odtc needs static shapes

// -----

func.func @not_f32(%x: tensor<4xf16>) -> tensor<4xf16> {
  %y = qtrain.relu6 %x : tensor<4xf16>
  func.return %y : tensor<4xf16>
}
// CHECK: qtrain.relu6: input must have element type f32, got f16

// -----

func.func @add_i32(%a: tensor<2xi32>) -> tensor<2xi32> {
  %y = qtrain.add %a, %a : tensor<2xi32>
  func.return %y : tensor<2xi32>
}
// CHECK: qtrain.add: lhs must have element type f32, got i32

// -----

// Operands are declared `operand_def(TensorType)`, so a non-tensor operand is rejected by
// xDSL's constraint, with its own two-line message, before any qtrain check runs.
func.func @not_tensor(%a: f32) -> f32 {
  %y = "qtrain.relu"(%a) : (f32) -> f32
  func.return %y : f32
}
// CHECK:      operand 'input' at position 0 does not verify:
// CHECK-NEXT: f32 should be of base attribute tensor

// -----

// The per-channel axis of a quantized operand must name one of its dimensions.
func.func @q_axis_rank(%x: tensor<8x3x!qtrain.q<si8, sym, axis 2>>) -> tensor<24x!qtrain.q<si8, sym>> {
  %y = qtrain.reshape %x : tensor<8x3x!qtrain.q<si8, sym, axis 2>> -> tensor<24x!qtrain.q<si8, sym>>
  func.return %y : tensor<24x!qtrain.q<si8, sym>>
}
// CHECK: qtrain.reshape: input is quantized along axis 2 but has shape [8, 3]

// ==== qtrain.conv2d ===============================================================================

// -----

func.func @conv_rank(%x: tensor<3x8x8xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = "qtrain.conv2d"(%x, %w) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 1 : i64}> : (tensor<3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: input must have rank 4, got shape [3, 8, 8]

// -----

func.func @conv_bias_f32(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<8xi32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w, %b stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>, tensor<8xi32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: bias must have element type f32, got i32

// -----

func.func @conv_stride_count(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: stride must have 2 values, got 3

// -----

func.func @conv_padding_negative(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, -1, 0, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: padding values must be >= 0, got [0, -1, 0, 0]

// -----

func.func @conv_groups_zero(%x: tensor<1x8x8x8xf32>, %w: tensor<8x8x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 0 : (tensor<1x8x8x8xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: groups must be >= 1, got 0

// -----

func.func @conv_groups(%x: tensor<1x8x8x8xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 3 : (tensor<1x8x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: groups 3 must divide input channels 8 and output channels 8

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<8x2x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x2x3x3xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: weight has 2 input channels per group but input has 3 channels in 1 group(s) (weight shape [8, 2, 3, 3], input shape [1, 3, 8, 8])

// -----

// Depthwise: groups = C needs I = 1.
func.func @conv_depthwise_channels(%x: tensor<1x8x8x8xf32>, %w: tensor<8x8x3x3xf32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 8 : (tensor<1x8x8x8xf32>, tensor<8x8x3x3xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: weight has 8 input channels per group but input has 8 channels in 8 group(s) (weight shape [8, 8, 3, 3], input shape [1, 8, 8, 8])

// -----

func.func @conv_bias_shape(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x8x6x6xf32> {
  %y = qtrain.conv2d %x, %w, %b stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>, tensor<4xf32>) -> tensor<1x8x6x6xf32>
  func.return %y : tensor<1x8x6x6xf32>
}
// CHECK: qtrain.conv2d: bias has shape [4] but expected [8]

// -----

func.func @conv_kernel_fit(%x: tensor<1x3x3x3xf32>, %w: tensor<8x3x5x5xf32>) -> tensor<1x8x1x1xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 1, 0] groups 1 : (tensor<1x3x3x3xf32>, tensor<8x3x5x5xf32>) -> tensor<1x8x1x1xf32>
  func.return %y : tensor<1x8x1x1xf32>
}
// CHECK: qtrain.conv2d: kernel [5, 5] does not fit input [3, 3] with padding [0, 0, 1, 0]

// -----

func.func @conv_result(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32> {
  %y = qtrain.conv2d %x, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32>
  func.return %y : tensor<1x8x8x8xf32>
}
// CHECK: qtrain.conv2d: result has shape [1, 8, 8, 8] but expected [1, 8, 6, 6]

// ==== qtrain.dense ================================================================================

// -----

func.func @dense_rank(%x: tensor<1x2x3xf32>, %w: tensor<2x3xf32>) -> tensor<1x2xf32> {
  %y = qtrain.dense %x, %w : (tensor<1x2x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain.dense: input must have rank 2, got shape [1, 2, 3]

// -----

func.func @dense_features(%x: tensor<1x3xf32>, %w: tensor<2x4xf32>) -> tensor<1x2xf32> {
  %y = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain.dense: weight has 4 input features but input has 3 (weight shape [2, 4], input shape [1, 3])

// -----

func.func @dense_bias(%x: tensor<1x3xf32>, %w: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<1x2xf32> {
  %y = qtrain.dense %x, %w, %b : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
// CHECK: qtrain.dense: bias has shape [3] but expected [2]

// -----

func.func @dense_result(%x: tensor<1x3xf32>, %w: tensor<2x3xf32>) -> tensor<2x1xf32> {
  %y = qtrain.dense %x, %w : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<2x1xf32>
  func.return %y : tensor<2x1xf32>
}
// CHECK: qtrain.dense: result has shape [2, 1] but expected [1, 2]

// ==== pooling =====================================================================================

// -----

func.func @pool_stride_zero(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x2x2xf32> {
  %y = qtrain.maxpool2d %x kernel [2, 2] stride [0, 2] padding [0, 0, 0, 0] : tensor<1x8x4x4xf32> -> tensor<1x8x2x2xf32>
  func.return %y : tensor<1x8x2x2xf32>
}
// CHECK: qtrain.maxpool2d: stride values must be >= 1, got [0, 2]

// -----

func.func @pool_kernel_count(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x2x2xf32> {
  %y = qtrain.avgpool2d %x kernel [2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x8x4x4xf32> -> tensor<1x8x2x2xf32>
  func.return %y : tensor<1x8x2x2xf32>
}
// CHECK: qtrain.avgpool2d: kernel must have 2 values, got 1

// -----

func.func @pool_padding(%x: tensor<1x8x4x4xf32>) -> tensor<1x8x3x2xf32> {
  %y = qtrain.maxpool2d %x kernel [2, 2] stride [2, 2] padding [0, 0, 2, 0] : tensor<1x8x4x4xf32> -> tensor<1x8x3x2xf32>
  func.return %y : tensor<1x8x3x2xf32>
}
// CHECK: qtrain.maxpool2d: padding [0, 0, 2, 0] must be smaller than kernel [2, 2]

// -----

func.func @pool_kernel_fit(%x: tensor<1x8x2x2xf32>) -> tensor<1x8x1x1xf32> {
  %y = qtrain.avgpool2d %x kernel [5, 5] stride [1, 1] padding [1, 1, 1, 1] count_include_pad : tensor<1x8x2x2xf32> -> tensor<1x8x1x1xf32>
  func.return %y : tensor<1x8x1x1xf32>
}
// CHECK: qtrain.avgpool2d: kernel [5, 5] does not fit input [2, 2] with padding [1, 1, 1, 1]

// -----

func.func @pool_result(%x: tensor<1x8x5x5xf32>) -> tensor<1x8x3x3xf32> {
  %y = qtrain.maxpool2d %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : tensor<1x8x5x5xf32> -> tensor<1x8x3x3xf32>
  func.return %y : tensor<1x8x3x3xf32>
}
// CHECK: qtrain.maxpool2d: result has shape [1, 8, 3, 3] but expected [1, 8, 2, 2]

// -----

func.func @global_pool_rank(%x: tensor<8x4x4xf32>) -> tensor<8x1x1xf32> {
  %y = qtrain.global_avgpool %x : tensor<8x4x4xf32> -> tensor<8x1x1xf32>
  func.return %y : tensor<8x1x1xf32>
}
// CHECK: qtrain.global_avgpool: input must have rank 4, got shape [8, 4, 4]

// -----

func.func @global_pool_result(%x: tensor<1x8x4x4xf32>) -> tensor<1x8xf32> {
  %y = qtrain.global_avgpool %x : tensor<1x8x4x4xf32> -> tensor<1x8xf32>
  func.return %y : tensor<1x8xf32>
}
// CHECK: qtrain.global_avgpool: result has shape [1, 8] but expected [1, 8, 1, 1]

// ==== qtrain.reshape / qtrain.flatten ==============================================================

// -----

func.func @reshape_type(%x: tensor<2x3xf32>) -> tensor<6xf16> {
  %y = qtrain.reshape %x : tensor<2x3xf32> -> tensor<6xf16>
  func.return %y : tensor<6xf16>
}
// CHECK: qtrain.reshape: result element type f16 differs from input element type f32

// -----

func.func @reshape_count(%x: tensor<2x3xf32>) -> tensor<5xf32> {
  %y = qtrain.reshape %x : tensor<2x3xf32> -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
// CHECK: qtrain.reshape: input shape [2, 3] has 6 elements but result shape [5] has 5

// -----

func.func @reshape_dynamic(%x: tensor<2x3xf32>) -> tensor<?xf32> {
  %y = qtrain.reshape %x : tensor<2x3xf32> -> tensor<?xf32>
  func.return %y : tensor<?xf32>
}
// CHECK: qtrain.reshape: result has a dynamic shape tensor<?xf32>; odtc needs static shapes

// -----

// Reshaping moves dimensions, so a per-channel axis would silently change meaning.
func.func @reshape_per_channel(%x: tensor<8x3x!qtrain.q<si8, sym, axis 0>>) -> tensor<24x!qtrain.q<si8, sym, axis 0>> {
  %y = qtrain.reshape %x : tensor<8x3x!qtrain.q<si8, sym, axis 0>> -> tensor<24x!qtrain.q<si8, sym, axis 0>>
  func.return %y : tensor<24x!qtrain.q<si8, sym, axis 0>>
}
// CHECK: qtrain.reshape: cannot reshape a per-channel quantized tensor (tensor<8x3x!qtrain.q<si8, sym, axis 0>>); requantize per tensor first

// -----

func.func @flatten_axis(%x: tensor<1x8x7x7xf32>) -> tensor<392x1xf32> {
  %y = qtrain.flatten %x axis 5 : tensor<1x8x7x7xf32> -> tensor<392x1xf32>
  func.return %y : tensor<392x1xf32>
}
// CHECK: qtrain.flatten: axis 5 out of range for input shape [1, 8, 7, 7]

// -----

func.func @flatten_type(%x: tensor<1x8x7x7xf32>) -> tensor<1x392xi32> {
  %y = qtrain.flatten %x axis 1 : tensor<1x8x7x7xf32> -> tensor<1x392xi32>
  func.return %y : tensor<1x392xi32>
}
// CHECK: qtrain.flatten: result element type i32 differs from input element type f32

// -----

func.func @flatten_result(%x: tensor<1x8x7x7xf32>) -> tensor<8x49xf32> {
  %y = qtrain.flatten %x axis 1 : tensor<1x8x7x7xf32> -> tensor<8x49xf32>
  func.return %y : tensor<8x49xf32>
}
// CHECK: qtrain.flatten: result has shape [8, 49] but expected [1, 392]

// ==== qtrain.batchnorm =============================================================================

// -----

func.func @bn_rank(%x: tensor<1x8x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4xf32> {
  %y = qtrain.batchnorm %x, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4xf32>
  func.return %y : tensor<1x8x4xf32>
}
// CHECK: qtrain.batchnorm: input must have rank 2 or 4, got shape [1, 8, 4]

// -----

func.func @bn_gamma(%x: tensor<1x8x4x4xf32>, %g: tensor<4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %y = qtrain.batchnorm %x, %g, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.batchnorm: gamma has shape [4] but expected [8]

// -----

func.func @bn_var_type(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>, %v: tensor<8xf64>) -> tensor<1x8x4x4xf32> {
  %y = qtrain.batchnorm %x, %p, %p, %p, %v epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf64>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.batchnorm: var must have element type f32, got f64

// -----

func.func @bn_result(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4x5xf32> {
  %y = qtrain.batchnorm %x, %p, %p, %p, %p epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x5xf32>
  func.return %y : tensor<1x8x4x5xf32>
}
// CHECK: qtrain.batchnorm: result type tensor<1x8x4x5xf32> differs from input type tensor<1x8x4x4xf32>

// -----

func.func @bn_epsilon(%x: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %y = qtrain.batchnorm %x, %p, %p, %p, %p epsilon 0.000000e+00 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %y : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.batchnorm: epsilon must be positive, got 0.0

// ==== losses ========================================================================================

// -----

func.func @ce_logits_rank(%l: tensor<10xf32>, %t: tensor<1xi32>) -> tensor<f32> {
  %y = qtrain.softmax_cross_entropy %l, %t : (tensor<10xf32>, tensor<1xi32>) -> tensor<f32>
  func.return %y : tensor<f32>
}
// CHECK: qtrain.softmax_cross_entropy: logits must have rank 2, got shape [10]

// -----

func.func @ce_label_type(%l: tensor<2x10xf32>, %t: tensor<2xi64>) -> tensor<f32> {
  %y = qtrain.softmax_cross_entropy %l, %t : (tensor<2x10xf32>, tensor<2xi64>) -> tensor<f32>
  func.return %y : tensor<f32>
}
// CHECK: qtrain.softmax_cross_entropy: labels must have element type i32, got i64

// -----

func.func @ce_label_shape(%l: tensor<2x10xf32>, %t: tensor<2x1xi32>) -> tensor<f32> {
  %y = qtrain.softmax_cross_entropy %l, %t : (tensor<2x10xf32>, tensor<2x1xi32>) -> tensor<f32>
  func.return %y : tensor<f32>
}
// CHECK: qtrain.softmax_cross_entropy: labels has shape [2, 1] but expected [2]

// -----

func.func @ce_loss_shape(%l: tensor<2x10xf32>, %t: tensor<2xi32>) -> tensor<2xf32> {
  %y = qtrain.softmax_cross_entropy %l, %t : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}
// CHECK: qtrain.softmax_cross_entropy: loss has shape [2] but expected []

// -----

func.func @mse_shapes(%p: tensor<2x10xf32>, %t: tensor<10x2xf32>) -> tensor<f32> {
  %y = qtrain.mse %p, %t : (tensor<2x10xf32>, tensor<10x2xf32>) -> tensor<f32>
  func.return %y : tensor<f32>
}
// CHECK: qtrain.mse: prediction shape [2, 10] and target shape [10, 2] differ

// -----

func.func @mse_loss_type(%p: tensor<2x10xf32>) -> tensor<f64> {
  %y = qtrain.mse %p, %p : (tensor<2x10xf32>, tensor<2x10xf32>) -> tensor<f64>
  func.return %y : tensor<f64>
}
// CHECK: qtrain.mse: loss must have element type f32, got f64

// ==== qtrain.quantize / dequantize / requantize ======================================================

// -----

func.func @quantize_not_quant(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xi8> {
  %q = qtrain.quantize %x, %s, %z : (tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<4xi8>
  func.return %q : tensor<4xi8>
}
// CHECK: qtrain.quantize: result must be a quantized tensor (!qtrain.q), got i8

// -----

func.func @quantize_shape(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<5x!qtrain.q<ui8, asym>> {
  %q = qtrain.quantize %x, %s, %z : (tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<5x!qtrain.q<ui8, asym>>
  func.return %q : tensor<5x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.quantize: input shape [4] and result shape [5] differ

// -----

func.func @quantize_scale_type(%x: tensor<4xf32>, %s: tensor<f16>, %z: tensor<i32>) -> tensor<4x!qtrain.q<ui8, asym>> {
  %q = qtrain.quantize %x, %s, %z : (tensor<4xf32>, tensor<f16>, tensor<i32>) -> tensor<4x!qtrain.q<ui8, asym>>
  func.return %q : tensor<4x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.quantize: result scale must have element type f32, got f16

// -----

func.func @quantize_zp_type(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i64>) -> tensor<4x!qtrain.q<ui8, asym>> {
  %q = qtrain.quantize %x, %s, %z : (tensor<4xf32>, tensor<f32>, tensor<i64>) -> tensor<4x!qtrain.q<ui8, asym>>
  func.return %q : tensor<4x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.quantize: result zero-point must have element type i32, got i64

// -----

func.func @quantize_axis(%x: tensor<8x3xf32>, %s: tensor<8xf32>, %z: tensor<8xi32>) -> tensor<8x3x!qtrain.q<si8, sym, axis 2>> {
  %q = qtrain.quantize %x, %s, %z : (tensor<8x3xf32>, tensor<8xf32>, tensor<8xi32>) -> tensor<8x3x!qtrain.q<si8, sym, axis 2>>
  func.return %q : tensor<8x3x!qtrain.q<si8, sym, axis 2>>
}
// CHECK: qtrain.quantize: result is quantized along axis 2 but has shape [8, 3]

// -----

func.func @quantize_zp_shape(%x: tensor<8x3xf32>, %s: tensor<8xf32>, %z: tensor<i32>) -> tensor<8x3x!qtrain.q<si8, sym, axis 0>> {
  %q = qtrain.quantize %x, %s, %z : (tensor<8x3xf32>, tensor<8xf32>, tensor<i32>) -> tensor<8x3x!qtrain.q<si8, sym, axis 0>>
  func.return %q : tensor<8x3x!qtrain.q<si8, sym, axis 0>>
}
// CHECK: qtrain.quantize: result zero-point has shape [] but expected [8]

// -----

func.func @dequantize_not_quant(%q: tensor<4xi8>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %x = qtrain.dequantize %q, %s, %z : (tensor<4xi8>, tensor<f32>, tensor<i32>) -> tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: qtrain.dequantize: input must be a quantized tensor (!qtrain.q), got i8

// -----

func.func @dequantize_shape(%q: tensor<4x!qtrain.q<ui8, asym>>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<2x2xf32> {
  %x = qtrain.dequantize %q, %s, %z : (tensor<4x!qtrain.q<ui8, asym>>, tensor<f32>, tensor<i32>) -> tensor<2x2xf32>
  func.return %x : tensor<2x2xf32>
}
// CHECK: qtrain.dequantize: input shape [4] and result shape [2, 2] differ

// -----

func.func @dequantize_scale_shape(%q: tensor<4x!qtrain.q<ui8, asym>>, %s: tensor<4xf32>, %z: tensor<i32>) -> tensor<4xf32> {
  %x = qtrain.dequantize %q, %s, %z : (tensor<4x!qtrain.q<ui8, asym>>, tensor<4xf32>, tensor<i32>) -> tensor<4xf32>
  func.return %x : tensor<4xf32>
}
// CHECK: qtrain.dequantize: input scale has shape [4] but expected []

// -----

func.func @requantize_per_channel(%q: tensor<8x3x!qtrain.q<si8, sym, axis 0>>, %s: tensor<8xf32>, %z: tensor<8xi32>, %s2: tensor<f32>, %z2: tensor<i32>) -> tensor<8x3x!qtrain.q<si8, sym>> {
  %r = qtrain.requantize %q[%s, %z] -> [%s2, %z2] : (tensor<8x3x!qtrain.q<si8, sym, axis 0>>, tensor<8xf32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<8x3x!qtrain.q<si8, sym>>
  func.return %r : tensor<8x3x!qtrain.q<si8, sym>>
}
// CHECK: qtrain.requantize: only per-tensor quantized tensors can be requantized

// -----

func.func @requantize_shape(%q: tensor<4x!qtrain.q<si32, sym>>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<3x!qtrain.q<si8, sym>> {
  %r = qtrain.requantize %q[%s, %z] -> [%s, %z] : (tensor<4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<3x!qtrain.q<si8, sym>>
  func.return %r : tensor<3x!qtrain.q<si8, sym>>
}
// CHECK: qtrain.requantize: input shape [4] and result shape [3] differ

// -----

func.func @requantize_out_zp(%q: tensor<4x!qtrain.q<si32, sym>>, %s: tensor<f32>, %z: tensor<i32>, %z2: tensor<f32>) -> tensor<4x!qtrain.q<si8, sym>> {
  %r = qtrain.requantize %q[%s, %z] -> [%s, %z2] : (tensor<4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<f32>) -> tensor<4x!qtrain.q<si8, sym>>
  func.return %r : tensor<4x!qtrain.q<si8, sym>>
}
// CHECK: qtrain.requantize: result zero-point must have element type i32, got f32

// ==== qtrain.qconv2d / qtrain.qdense ================================================================

// -----

func.func @qdense_storage(%x: tensor<1x3x!qtrain.q<si16, sym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<2x3x!qtrain.q<si8, sym>>) -> tensor<1x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qdense %x[%s, %z], %w[%s, %z] -> [%s, %z] activation "none" : (tensor<1x3x!qtrain.q<si16, sym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qdense: input, weight and result must have 8-bit storage

// -----

func.func @qdense_weight_not_quant(%x: tensor<1x3x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<2x3xf32>) -> tensor<1x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qdense %x[%s, %z], %w[%s, %z] -> [%s, %z] activation "none" : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x3xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qdense: weight must be a quantized tensor (!qtrain.q), got f32

// -----

func.func @qconv_per_channel_input(%x: tensor<1x3x4x4x!qtrain.q<si8, sym, axis 1>>, %sx: tensor<3xf32>, %zx: tensor<3xi32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym>>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qconv2d %x[%sx, %zx], %w[%s, %z] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 1 activation "none" : (tensor<1x3x4x4x!qtrain.q<si8, sym, axis 1>>, tensor<3xf32>, tensor<3xi32>, tensor<8x3x3x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x8x2x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qconv2d: input and result must be quantized per tensor

// -----

func.func @qconv_weight_axis(%x: tensor<1x3x4x4x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym, axis 1>>, %sw: tensor<3xf32>, %zw: tensor<3xi32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qconv2d %x[%s, %z], %w[%sw, %zw] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 1 activation "none" : (tensor<1x3x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 1>>, tensor<3xf32>, tensor<3xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x8x2x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qconv2d: weight must be quantized per tensor or along axis 0, got axis 1

// -----

func.func @qconv_weight_scale(%x: tensor<1x3x4x4x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, %zw: tensor<8xi32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qconv2d %x[%s, %z], %w[%s, %zw] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 1 activation "none" : (tensor<1x3x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym, axis 0>>, tensor<f32>, tensor<8xi32>, tensor<f32>, tensor<i32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x8x2x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qconv2d: weight scale has shape [] but expected [8]

// -----

func.func @qconv_bias_type(%x: tensor<1x3x4x4x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym>>, %b: tensor<8xf32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qconv2d %x[%s, %z], %w[%s, %z], %b -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 1 activation "none" : (tensor<1x3x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<8xf32>, tensor<f32>, tensor<i32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x8x2x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qconv2d: bias must have element type i32 (scale input·weight), got f32

// -----

func.func @qconv_activation(%x: tensor<1x3x4x4x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym>>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qconv2d %x[%s, %z], %w[%s, %z] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 1 activation "gelu" : (tensor<1x3x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x8x2x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x8x2x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qconv2d: activation must be one of none, relu, relu6, got 'gelu'

// -----

// The float conv checks apply to qconv2d too.
func.func @qconv_result(%x: tensor<1x3x4x4x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<8x3x3x3x!qtrain.q<si8, sym>>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>> {
  %y = qtrain.qconv2d %x[%s, %z], %w[%s, %z] -> [%s, %z] stride [1, 1] padding [0, 0, 0, 0] groups 1 activation "relu" : (tensor<1x3x4x4x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<8x3x3x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x8x4x4x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x8x4x4x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qconv2d: result has shape [1, 8, 4, 4] but expected [1, 8, 2, 2]

// -----

func.func @qdense_features(%x: tensor<1x3x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<2x4x!qtrain.q<si8, sym>>, %b: tensor<2xi32>) -> tensor<1x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qdense %x[%s, %z], %w[%s, %z], %b -> [%s, %z] activation "relu6" : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x4x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<2xi32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qdense: weight has 4 input features but input has 3 (weight shape [2, 4], input shape [1, 3])

// -----

func.func @qdense_activation(%x: tensor<1x3x!qtrain.q<si8, asym>>, %s: tensor<f32>, %z: tensor<i32>, %w: tensor<2x3x!qtrain.q<si8, sym>>) -> tensor<1x2x!qtrain.q<si8, asym>> {
  %y = qtrain.qdense %x[%s, %z], %w[%s, %z] -> [%s, %z] activation "RELU" : (tensor<1x3x!qtrain.q<si8, asym>>, tensor<f32>, tensor<i32>, tensor<2x3x!qtrain.q<si8, sym>>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>) -> tensor<1x2x!qtrain.q<si8, asym>>
  func.return %y : tensor<1x2x!qtrain.q<si8, asym>>
}
// CHECK: qtrain.qdense: activation must be one of none, relu, relu6, got 'RELU'

// ==== training level: backward ops =================================================================

// -----

func.func @cgi_groups(%dy: tensor<1x8x6x6xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x4x8x8xf32> {
  %dx = qtrain.conv2d_grad_input %dy, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x8x6x6xf32>, tensor<8x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  func.return %dx : tensor<1x4x8x8xf32>
}
// CHECK: qtrain.conv2d_grad_input: weight has 3 input channels per group but result has 4 channels

// -----

func.func @cgi_output_error(%dy: tensor<1x8x8x8xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x3x8x8xf32> {
  %dx = qtrain.conv2d_grad_input %dy, %w stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x8x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x3x8x8xf32>
  func.return %dx : tensor<1x3x8x8xf32>
}
// CHECK: qtrain.conv2d_grad_input: output error has shape [1, 8, 8, 8] but expected [1, 8, 6, 6]

// -----

func.func @cgi_stride(%dy: tensor<1x8x6x6xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<1x3x8x8xf32> {
  %dx = qtrain.conv2d_grad_input %dy, %w stride [0, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x8x6x6xf32>, tensor<8x3x3x3xf32>) -> tensor<1x3x8x8xf32>
  func.return %dx : tensor<1x3x8x8xf32>
}
// CHECK: qtrain.conv2d_grad_input: stride values must be >= 1, got [0, 1]

// -----

func.func @cgw_groups(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x6x6xf32>) -> tensor<8x3x3x3xf32> {
  %dw = qtrain.conv2d_grad_weight %x, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 : (tensor<1x4x8x8xf32>, tensor<1x8x6x6xf32>) -> tensor<8x3x3x3xf32>
  func.return %dw : tensor<8x3x3x3xf32>
}
// CHECK: qtrain.conv2d_grad_weight: result has 3 input channels per group but input has 4 channels

// -----

func.func @cgw_channels_order(%x: tensor<1x3x8x8xf32>, %dy: tensor<1x8x6x6xf32>) -> tensor<2x3x3x3xf32> {
  %dw = qtrain.conv2d_grad_weight %x, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 channels [2, 1] : (tensor<1x3x8x8xf32>, tensor<1x8x6x6xf32>) -> tensor<2x3x3x3xf32>
  func.return %dw : tensor<2x3x3x3xf32>
}
// CHECK: qtrain.conv2d_grad_weight: channels must be a non-empty increasing list in [0, 8), got [2, 1]

// -----

// With `channels`, the result has one row per listed channel.
func.func @cgw_rows(%x: tensor<1x3x8x8xf32>, %dy: tensor<1x8x6x6xf32>) -> tensor<8x3x3x3xf32> {
  %dw = qtrain.conv2d_grad_weight %x, %dy stride [1, 1] padding [0, 0, 0, 0] groups 1 channels [1, 2] : (tensor<1x3x8x8xf32>, tensor<1x8x6x6xf32>) -> tensor<8x3x3x3xf32>
  func.return %dw : tensor<8x3x3x3xf32>
}
// CHECK: qtrain.conv2d_grad_weight: result has shape [8, 3, 3, 3] but expected [2, 3, 3, 3]

// -----

func.func @cgw_output_error(%x: tensor<1x3x8x8xf32>, %dy: tensor<1x8x6x6xf32>) -> tensor<8x3x3x3xf32> {
  %dw = qtrain.conv2d_grad_weight %x, %dy stride [2, 2] padding [0, 0, 0, 0] groups 1 : (tensor<1x3x8x8xf32>, tensor<1x8x6x6xf32>) -> tensor<8x3x3x3xf32>
  func.return %dw : tensor<8x3x3x3xf32>
}
// CHECK: qtrain.conv2d_grad_weight: output error has shape [1, 8, 6, 6] but expected [1, 8, 3, 3]

// -----

func.func @cgb_rank(%dy: tensor<1x8xf32>) -> tensor<8xf32> {
  %db = qtrain.conv2d_grad_bias %dy : tensor<1x8xf32> -> tensor<8xf32>
  func.return %db : tensor<8xf32>
}
// CHECK: qtrain.conv2d_grad_bias: output error must have rank 4, got shape [1, 8]

// -----

func.func @cgb_result(%dy: tensor<1x8x6x6xf32>) -> tensor<6xf32> {
  %db = qtrain.conv2d_grad_bias %dy : tensor<1x8x6x6xf32> -> tensor<6xf32>
  func.return %db : tensor<6xf32>
}
// CHECK: qtrain.conv2d_grad_bias: result has shape [6] but expected [8]

// -----

func.func @dgi_output_error(%dy: tensor<1x4xf32>, %w: tensor<2x3xf32>) -> tensor<1x3xf32> {
  %dx = qtrain.dense_grad_input %dy, %w : (tensor<1x4xf32>, tensor<2x3xf32>) -> tensor<1x3xf32>
  func.return %dx : tensor<1x3xf32>
}
// CHECK: qtrain.dense_grad_input: output error has shape [1, 4] but expected [1, 2]

// -----

func.func @dgi_rank(%dy: tensor<1x2xf32>, %w: tensor<2x3x1xf32>) -> tensor<1x3xf32> {
  %dx = qtrain.dense_grad_input %dy, %w : (tensor<1x2xf32>, tensor<2x3x1xf32>) -> tensor<1x3xf32>
  func.return %dx : tensor<1x3xf32>
}
// CHECK: qtrain.dense_grad_input: weight must have rank 2, got shape [2, 3, 1]

// -----

func.func @dgw_batch(%x: tensor<1x3xf32>, %dy: tensor<2x2xf32>) -> tensor<2x3xf32> {
  %dw = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<2x2xf32>) -> tensor<2x3xf32>
  func.return %dw : tensor<2x3xf32>
}
// CHECK: qtrain.dense_grad_weight: output error has batch 2 but input has batch 1

// -----

func.func @dgw_channels_range(%x: tensor<1x3xf32>, %dy: tensor<1x2xf32>) -> tensor<1x3xf32> {
  %dw = qtrain.dense_grad_weight %x, %dy channels [2] : (tensor<1x3xf32>, tensor<1x2xf32>) -> tensor<1x3xf32>
  func.return %dw : tensor<1x3xf32>
}
// CHECK: qtrain.dense_grad_weight: channels must be a non-empty increasing list in [0, 2), got [2]

// -----

func.func @dgw_result(%x: tensor<1x3xf32>, %dy: tensor<1x2xf32>) -> tensor<3x2xf32> {
  %dw = qtrain.dense_grad_weight %x, %dy : (tensor<1x3xf32>, tensor<1x2xf32>) -> tensor<3x2xf32>
  func.return %dw : tensor<3x2xf32>
}
// CHECK: qtrain.dense_grad_weight: result has shape [3, 2] but expected [2, 3]

// -----

func.func @dgb_rank(%dy: tensor<1x2x1x1xf32>) -> tensor<2xf32> {
  %db = qtrain.dense_grad_bias %dy : tensor<1x2x1x1xf32> -> tensor<2xf32>
  func.return %db : tensor<2xf32>
}
// CHECK: qtrain.dense_grad_bias: output error must have rank 2, got shape [1, 2, 1, 1]

// -----

func.func @relu_grad_type(%dy: tensor<4xf16>, %y: tensor<4xf16>) -> tensor<4xf16> {
  %dx = qtrain.relu_grad %dy, %y : tensor<4xf16>
  func.return %dx : tensor<4xf16>
}
// CHECK: qtrain.relu_grad: output error must have element type f32, got f16

// -----

// The output error and the forward output share one type (a VarConstraint), so a mismatch is
// xDSL's two-line constraint message.
func.func @relu6_grad_shapes(%dy: tensor<4xf32>, %y: tensor<5xf32>) -> tensor<4xf32> {
  %dx = "qtrain.relu6_grad"(%dy, %y) : (tensor<4xf32>, tensor<5xf32>) -> tensor<4xf32>
  func.return %dx : tensor<4xf32>
}
// CHECK:      operand 'output' at position 1 does not verify:
// CHECK-NEXT: attribute tensor<4xf32> expected from variable 'T', but got tensor<5xf32>

// -----

// The saved forward input and the result (its gradient) have the same type.
func.func @maxpool_grad_input(%dy: tensor<1x8x3x3xf32>, %x: tensor<1x8x6x6xf32>) -> tensor<1x8x7x7xf32> {
  %dx = qtrain.maxpool2d_grad %dy, %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<1x8x3x3xf32>, tensor<1x8x6x6xf32>) -> tensor<1x8x7x7xf32>
  func.return %dx : tensor<1x8x7x7xf32>
}
// CHECK: qtrain.maxpool2d_grad: result type tensor<1x8x7x7xf32> differs from input type tensor<1x8x6x6xf32>

// -----

func.func @maxpool_grad_output_error(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32> {
  %dx = qtrain.maxpool2d_grad %dy, %x kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<1x8x4x4xf32>, tensor<1x8x7x7xf32>) -> tensor<1x8x7x7xf32>
  func.return %dx : tensor<1x8x7x7xf32>
}
// CHECK: qtrain.maxpool2d_grad: output error has shape [1, 8, 4, 4] but expected [1, 8, 3, 3]

// -----

func.func @avgpool_grad_kernel(%dy: tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32> {
  %dx = qtrain.avgpool2d_grad %dy kernel [2, 2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<1x8x4x4xf32>) -> tensor<1x8x8x8xf32>
  func.return %dx : tensor<1x8x8x8xf32>
}
// CHECK: qtrain.avgpool2d_grad: kernel must have 2 values, got 3

// -----

func.func @avgpool_grad_rank(%dy: tensor<8x4x4xf32>) -> tensor<8x8x8xf32> {
  %dx = qtrain.avgpool2d_grad %dy kernel [2, 2] stride [2, 2] padding [0, 0, 0, 0] : (tensor<8x4x4xf32>) -> tensor<8x8x8xf32>
  func.return %dx : tensor<8x8x8xf32>
}
// CHECK: qtrain.avgpool2d_grad: result must have rank 4, got shape [8, 8, 8]

// -----

func.func @gap_grad(%dy: tensor<1x8x2x2xf32>) -> tensor<1x8x4x4xf32> {
  %dx = qtrain.global_avgpool_grad %dy : tensor<1x8x2x2xf32> -> tensor<1x8x4x4xf32>
  func.return %dx : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.global_avgpool_grad: output error has shape [1, 8, 2, 2] but expected [1, 8, 1, 1]

// -----

func.func @bn_grad_input_gamma(%dy: tensor<1x8x4x4xf32>, %g: tensor<4xf32>, %v: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %dx = qtrain.batchnorm_grad_input %dy, %g, %v epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<4xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  func.return %dx : tensor<1x8x4x4xf32>
}
// CHECK: qtrain.batchnorm_grad_input: gamma has shape [4] but expected [8]

// -----

func.func @bn_grad_input_result(%dy: tensor<1x8x4x4xf32>, %p: tensor<8xf32>) -> tensor<1x8x2x8xf32> {
  %dx = qtrain.batchnorm_grad_input %dy, %p, %p epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x2x8xf32>
  func.return %dx : tensor<1x8x2x8xf32>
}
// CHECK: qtrain.batchnorm_grad_input: result has shape [1, 8, 2, 8] but expected [1, 8, 4, 4]

// -----

func.func @bn_grad_gamma_input(%dy: tensor<1x8x4x4xf32>, %x: tensor<1x8x4x2xf32>, %p: tensor<8xf32>) -> tensor<8xf32> {
  %dg = qtrain.batchnorm_grad_gamma %dy, %x, %p, %p epsilon 1.000000e-05 : (tensor<1x8x4x4xf32>, tensor<1x8x4x2xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  func.return %dg : tensor<8xf32>
}
// CHECK: qtrain.batchnorm_grad_gamma: input has shape [1, 8, 4, 2] but expected [1, 8, 4, 4]

// -----

func.func @bn_grad_gamma_result(%dy: tensor<2x8xf32>, %p: tensor<8xf32>) -> tensor<2xf32> {
  %dg = qtrain.batchnorm_grad_gamma %dy, %dy, %p, %p epsilon 1.000000e-05 : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2xf32>
  func.return %dg : tensor<2xf32>
}
// CHECK: qtrain.batchnorm_grad_gamma: result has shape [2] but expected [8]

// -----

func.func @bn_grad_beta_rank(%dy: tensor<8xf32>) -> tensor<8xf32> {
  %db = qtrain.batchnorm_grad_beta %dy : tensor<8xf32> -> tensor<8xf32>
  func.return %db : tensor<8xf32>
}
// CHECK: qtrain.batchnorm_grad_beta: output error must have rank 2 or 4, got shape [8]

// -----

func.func @ce_grad_labels(%l: tensor<2x10xf32>, %t: tensor<2xi64>) -> tensor<2x10xf32> {
  %d = qtrain.softmax_cross_entropy_grad %l, %t : (tensor<2x10xf32>, tensor<2xi64>) -> tensor<2x10xf32>
  func.return %d : tensor<2x10xf32>
}
// CHECK: qtrain.softmax_cross_entropy_grad: labels must have element type i32, got i64

// -----

func.func @ce_grad_label_shape(%l: tensor<2x10xf32>, %t: tensor<1xi32>) -> tensor<2x10xf32> {
  %d = qtrain.softmax_cross_entropy_grad %l, %t : (tensor<2x10xf32>, tensor<1xi32>) -> tensor<2x10xf32>
  func.return %d : tensor<2x10xf32>
}
// CHECK: qtrain.softmax_cross_entropy_grad: labels has shape [1] but expected [2]

// -----

func.func @ce_grad_result(%l: tensor<2x10xf32>, %t: tensor<2xi32>) -> tensor<1x10xf32> {
  %d = qtrain.softmax_cross_entropy_grad %l, %t : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<1x10xf32>
  func.return %d : tensor<1x10xf32>
}
// CHECK: qtrain.softmax_cross_entropy_grad: result has shape [1, 10] but expected [2, 10]

// -----

func.func @mse_grad_type(%p: tensor<2xi32>) -> tensor<2xi32> {
  %d = qtrain.mse_grad %p, %p : tensor<2xi32>
  func.return %d : tensor<2xi32>
}
// CHECK: qtrain.mse_grad: prediction must have element type f32, got i32

// ==== training level: optimizer ops ===============================================================
//
// The symbol checks resolve @param and the state symbols in the enclosing module.

// -----

func.func @update_missing(%g: tensor<2xf32>) {
  qtrain.sgd_update @nope, %g lr 1.000000e-02 : tensor<2xf32>
  func.return
}
// CHECK: qtrain.sgd_update: no qtrain.param named @nope

// -----

qtrain.param @w frozen : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @update_frozen(%g: tensor<2xf32>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 : tensor<2xf32>
  func.return
}
// CHECK: qtrain.sgd_update: @w is not a trainable qtrain.param

// -----

qtrain.state @s : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @update_state(%g: tensor<2xf32>) {
  qtrain.sgd_update @s, %g lr 1.000000e-02 : tensor<2xf32>
  func.return
}
// CHECK: qtrain.sgd_update: @s is not a trainable qtrain.param

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
func.func @update_grad_type(%g: tensor<2xi32>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 : tensor<2xi32>
  func.return
}
// CHECK: qtrain.sgd_update: gradient must have element type f32, got i32

// -----

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @update_grad_shape(%g: tensor<3x4xf32>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 : tensor<3x4xf32>
  func.return
}
// CHECK: qtrain.sgd_update: gradient has shape [3, 4] but expected [4, 3]

// -----

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @update_sparse_rows(%g: tensor<4x3xf32>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 channels [0, 2] : tensor<4x3xf32>
  func.return
}
// CHECK: qtrain.sgd_update: gradient has shape [4, 3] but expected [2, 3]

// -----

// An empty channel list cannot be written in the custom syntax.
qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @update_channels_empty(%g: tensor<0x3xf32>) {
  "qtrain.sgd_update"(%g) <{param = @w, lr = 1.000000e-02 : f64, channels = array<i64>}> : (tensor<0x3xf32>) -> ()
  func.return
}
// CHECK: qtrain.sgd_update: channels must be a non-empty increasing list in [0, 4), got []

// -----

// Optimizer state lives in qtrain.state symbols, never in parameters.
qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.param @v trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @momentum_velocity_param(%g: tensor<2xf32>) {
  qtrain.momentum_update @w, %g velocity @v lr 1.000000e-02 momentum 9.000000e-01 : tensor<2xf32>
  func.return
}
// CHECK: qtrain.momentum_update: @v must be a qtrain.state

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @v : tensor<3xf32> = dense<0.000000e+00> : tensor<3xf32>
func.func @momentum_velocity_type(%g: tensor<2xf32>) {
  qtrain.momentum_update @w, %g velocity @v lr 1.000000e-02 momentum 9.000000e-01 : tensor<2xf32>
  func.return
}
// CHECK: qtrain.momentum_update: @v has type tensor<3xf32> but the op uses tensor<2xf32>

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @m : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.state @t : tensor<f32> = dense<0.000000e+00> : tensor<f32>
func.func @adam_step_type(%g: tensor<2xf32>) {
  qtrain.adam_update @w, %g moments @m, @m step @t lr 1.000000e-03 beta1 9.000000e-01 beta2 9.990000e-01 eps 1.000000e-08 : tensor<2xf32>
  func.return
}
// CHECK: qtrain.adam_update: @t has type tensor<f32> but the op uses tensor<i32>

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @t : tensor<i32> = dense<0> : tensor<i32>
func.func @adam_moment_missing(%g: tensor<2xf32>) {
  qtrain.adam_update @w, %g moments @m, @v step @t lr 1.000000e-03 beta1 9.000000e-01 beta2 9.990000e-01 eps 1.000000e-08 : tensor<2xf32>
  func.return
}
// CHECK: qtrain.adam_update: no qtrain.param or qtrain.state named @m

// -----

// The custom syntax writes `accumulate @acc every B at %pos` as one group; the generic one
// can give a part alone.
qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @acc : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @accumulate_no_every(%g: tensor<2xf32>, %pos: tensor<i32>) {
  "qtrain.sgd_update"(%g, %pos) <{param = @w, lr = 1.000000e-02 : f64, accumulator = @acc}> : (tensor<2xf32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.sgd_update: accumulate needs all of: the accumulator symbol, 'every' and the batch position operand

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @acc : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @accumulate_no_position(%g: tensor<2xf32>) {
  "qtrain.sgd_update"(%g) <{param = @w, lr = 1.000000e-02 : f64, accumulator = @acc, every = 4 : i64}> : (tensor<2xf32>) -> ()
  func.return
}
// CHECK: qtrain.sgd_update: accumulate needs all of: the accumulator symbol, 'every' and the batch position operand

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @acc : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @accumulate_every_one(%g: tensor<2xf32>, %pos: tensor<i32>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 accumulate @acc every 1 at %pos : tensor<2xf32>, tensor<i32>
  func.return
}
// CHECK: qtrain.sgd_update: every must be >= 2, got 1

// -----

// A sparse update accumulates only the listed rows: the accumulator has the gradient's shape.
qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
qtrain.state @acc : tensor<4x3xf32> = dense<0.000000e+00> : tensor<4x3xf32>
func.func @accumulate_sparse_type(%g: tensor<2x3xf32>, %pos: tensor<i32>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 channels [0, 1] accumulate @acc every 2 at %pos : tensor<2x3xf32>, tensor<i32>
  func.return
}
// CHECK: qtrain.sgd_update: @acc has type tensor<4x3xf32> but the op uses tensor<2x3xf32>

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @acc : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @accumulate_pos_shape(%g: tensor<2xf32>, %pos: tensor<1xi32>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 accumulate @acc every 2 at %pos : tensor<2xf32>, tensor<1xi32>
  func.return
}
// CHECK: qtrain.sgd_update: batch position has shape [1] but expected []

// -----

qtrain.param @w trainable : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
qtrain.state @acc : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @accumulate_pos_type(%g: tensor<2xf32>, %pos: tensor<i64>) {
  qtrain.sgd_update @w, %g lr 1.000000e-02 accumulate @acc every 2 at %pos : tensor<2xf32>, tensor<i64>
  func.return
}
// CHECK: qtrain.sgd_update: batch position must be tensor<i32>, got tensor<i64>

// -----

qtrain.state @pos : tensor<i32> = dense<0> : tensor<i32>
func.func @counter_modulo() {
  qtrain.counter_step @pos modulo 0
  func.return
}
// CHECK: qtrain.counter_step: modulo must be >= 1, got 0

// -----

qtrain.state @pos : tensor<i64> = dense<0> : tensor<i64>
func.func @counter_type() {
  qtrain.counter_step @pos modulo 2
  func.return
}
// CHECK: qtrain.counter_step: @pos has type tensor<i64> but the op uses tensor<i32>

// -----

func.func @counter_missing() {
  qtrain.counter_step @pos modulo 2
  func.return
}
// CHECK: qtrain.counter_step: no qtrain.param or qtrain.state named @pos

// ==== fused grad-weight + SGD (qtrain-fuse-updates) =============================================

// -----

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @dense_sgd_input_type(%x: tensor<2x3xi32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xi32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: input must have element type f32, got i32

// -----

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @dense_sgd_rank(%x: tensor<2x3xf32>, %dy: tensor<2x4x1xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4x1xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: output error must have rank 2, got shape [2, 4, 1]

// -----

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @dense_sgd_batch(%x: tensor<2x3xf32>, %dy: tensor<3x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<3x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: output error has batch 3 but input has batch 2

// -----

func.func @dense_sgd_missing(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @nope, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: no qtrain.param named @nope

// -----

qtrain.param @w frozen : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @dense_sgd_frozen(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: @w is not a trainable qtrain.param

// -----

qtrain.param @w trainable : tensor<4x3xi32> = dense<1> : tensor<4x3xi32>
func.func @dense_sgd_param_type(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: @w must have element type f32, got i32

// -----

qtrain.param @w trainable : tensor<12xf32> = dense<1.000000e+00> : tensor<12xf32>
func.func @dense_sgd_param_rank(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: @w must have rank 2, got shape [12]

// -----

qtrain.param @w trainable : tensor<5x3xf32> = dense<1.000000e+00> : tensor<5x3xf32>
func.func @dense_sgd_rows(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: output error has 4 features but @w has 5 rows (output error shape [2, 4], weight shape [5, 3])

// -----

qtrain.param @w trainable : tensor<4x2xf32> = dense<1.000000e+00> : tensor<4x2xf32>
func.func @dense_sgd_columns(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 : tensor<2x3xf32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: input has 3 features but @w has 2 columns (input shape [2, 3], weight shape [4, 2])

// -----

qtrain.param @w trainable : tensor<4x3xf32> = dense<1.000000e+00> : tensor<4x3xf32>
func.func @dense_sgd_channels(%x: tensor<2x3xf32>, %dy: tensor<2x4xf32>) {
  qtrain.dense_grad_weight_sgd @w, %x, %dy lr 1.000000e-02 channels [1, 4] : tensor<2x3xf32>, tensor<2x4xf32>
  func.return
}
// CHECK: qtrain.dense_grad_weight_sgd: channels must be a non-empty increasing list in [0, 4), got [1, 4]

// -----

qtrain.param @w trainable : tensor<8x2x3x3xf32> = dense<1.000000e+00> : tensor<8x2x3x3xf32>
func.func @conv_sgd_rank(%x: tensor<4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 : tensor<4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: input must have rank 4, got shape [4, 8, 8]

// -----

qtrain.param @w trainable : tensor<8x2x3x3xf32> = dense<1.000000e+00> : tensor<8x2x3x3xf32>
func.func @conv_sgd_groups(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 3 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: groups 3 must divide input channels 4 and output channels 8

// -----

qtrain.param @w trainable : tensor<8x2x3x3xf32> = dense<1.000000e+00> : tensor<8x2x3x3xf32>
func.func @conv_sgd_stride(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  "qtrain.conv2d_grad_weight_sgd"(%x, %dy) <{param = @w, stride = array<i64: 2>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, lr = 1.000000e-02 : f64}> : (tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>) -> ()
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: stride must have 2 values, got 1

// -----

qtrain.param @w trainable : tensor<8x18xf32> = dense<1.000000e+00> : tensor<8x18xf32>
func.func @conv_sgd_param_rank(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: @w must have rank 4, got shape [8, 18]

// -----

qtrain.param @w trainable : tensor<6x2x3x3xf32> = dense<1.000000e+00> : tensor<6x2x3x3xf32>
func.func @conv_sgd_out_channels(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: output error has 8 channels but @w has 6 output channels (output error shape [1, 8, 4, 4], weight shape [6, 2, 3, 3])

// -----

qtrain.param @w trainable : tensor<8x4x3x3xf32> = dense<1.000000e+00> : tensor<8x4x3x3xf32>
func.func @conv_sgd_in_channels(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: @w has 4 input channels per group but input has 4 channels in 2 group(s) (weight shape [8, 4, 3, 3], input shape [1, 4, 8, 8])

// -----

qtrain.param @w trainable : tensor<8x2x9x9xf32> = dense<1.000000e+00> : tensor<8x2x9x9xf32>
func.func @conv_sgd_kernel_fit(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [0, 0, 0, 0] groups 2 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: kernel [9, 9] does not fit input [8, 8] with padding [0, 0, 0, 0]

// -----

qtrain.param @w trainable : tensor<8x2x3x3xf32> = dense<1.000000e+00> : tensor<8x2x3x3xf32>
func.func @conv_sgd_dy_shape(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x5x5xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 : tensor<1x4x8x8xf32>, tensor<1x8x5x5xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: output error has shape [1, 8, 5, 5] but expected [1, 8, 4, 4]

// -----

qtrain.param @w trainable : tensor<8x2x3x3xf32> = dense<1.000000e+00> : tensor<8x2x3x3xf32>
func.func @conv_sgd_channels(%x: tensor<1x4x8x8xf32>, %dy: tensor<1x8x4x4xf32>) {
  qtrain.conv2d_grad_weight_sgd @w, %x, %dy stride [2, 2] padding [1, 1, 0, 0] groups 2 lr 1.000000e-02 channels [2, 2] : tensor<1x4x8x8xf32>, tensor<1x8x4x4xf32>
  func.return
}
// CHECK: qtrain.conv2d_grad_weight_sgd: channels must be a non-empty increasing list in [0, 8), got [2, 2]
