// One case per verifier message of dialects/qtrain_vae.py (every `raise _err(...)`, and the
// messages of the shared helpers they reach: _require_f32/_require_tensor/_require_rank/
// _require_shape/_ints from qtrain.py, _q8/_zp/_require_acc from qtrain_fqt.py, and the
// file's own _require_same_shape/_require_step/_check_beta). --verify-diagnostics prints
// the message alone on the first line of each failing chunk, then the IR; every CHECK is
// that whole first line (--match-full-lines), so a changed message or a case that stops
// failing breaks the test. qconv_transpose2d_acc has no custom syntax: it is written in
// the generic form. kl_divergence's beta is written with its type (see vae-ops.mlir).
// RUN: odtc-opt %s --split-input-file --verify-diagnostics | filecheck %s --match-full-lines

// ==== qtrain.conv_transpose2d ===================================================================

// operands are f32 (_require_f32)
func.func @ct_f32(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf16>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf16>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: weight must have element type f32, got f16

// -----

// a bias is f32 too
func.func @ct_bias_f32(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xi32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xi32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: bias must have element type f32, got i32

// -----

// static shapes only (_require_tensor)
func.func @ct_dynamic(%x: tensor<?x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<?x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: input has a dynamic shape tensor<?x2x3x3xf32>; odtc needs static shapes

// -----

// NCHW input (_require_rank)
func.func @ct_input_rank(%x: tensor<2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: input must have rank 4, got shape [2, 3, 3]

// -----

// [Cin, Cout, kh, kw] weight
func.func @ct_weight_rank(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x9xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x9xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: weight must have rank 4, got shape [2, 4, 9]

// -----

// two strides (_ints)
func.func @ct_stride_count(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: stride must have 2 values, got 1

// -----

// strides >= 1
func.func @ct_stride_zero(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [0, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: stride values must be >= 1, got [0, 2]

// -----

// four paddings
func.func @ct_padding_count(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: padding must have 4 values, got 2

// -----

// paddings >= 0
func.func @ct_padding_negative(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, -1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: padding values must be >= 0, got [1, -1, 1, 1]

// -----

// two output paddings
func.func @ct_output_padding_count(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: output_padding must have 2 values, got 3

// -----

// output paddings >= 0
func.func @ct_output_padding_negative(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [0, -1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: output_padding values must be >= 0, got [0, -1]

// -----

// the weight's first axis is the input channels
func.func @ct_channels(%x: tensor<1x2x3x3xf32>, %w: tensor<3x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<3x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: weight has 3 input channels but input has 2 (weight shape [3, 4, 3, 3] is [Cin, Cout, kh, kw], input shape [1, 2, 3, 3])

// -----

// output_padding below the stride, per axis (here the column axis: 1 >= 1)
func.func @ct_output_padding_stride(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x6x5xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 1] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x6x5xf32>
  func.return %r : tensor<1x4x6x5xf32>
}
// CHECK: qtrain.conv_transpose2d: output_padding [1, 1] must be smaller than the stride [2, 1] per axis

// -----

// the paddings of one axis together stay below the kernel (here rows: 1 + 2 >= 3)
func.func @ct_padding_taps(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 2, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x6xf32>
  func.return %r : tensor<1x4x4x6xf32>
}
// CHECK: qtrain.conv_transpose2d: padding [1, 1, 2, 1] leaves no kernel tap of [3, 3] inside the output

// -----

// bias: one value per output channel (_require_shape)
func.func @ct_bias_shape(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<2xf32>) -> tensor<1x4x6x6xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<2xf32>) -> tensor<1x4x6x6xf32>
  func.return %r : tensor<1x4x6x6xf32>
}
// CHECK: qtrain.conv_transpose2d: bias has shape [2] but expected [4]

// -----

// an empty input gives an empty output: (0 - 1) * 2 - 0 + 1 + 0 = -1 rows
func.func @ct_empty(%x: tensor<1x2x0x3xf32>, %w: tensor<2x4x1x1xf32>) -> tensor<1x4x1x5xf32> {
  %r = qtrain.conv_transpose2d %x, %w stride [2, 2] padding [0, 0, 0, 0] output_padding [0, 0] : (tensor<1x2x0x3xf32>, tensor<2x4x1x1xf32>) -> tensor<1x4x1x5xf32>
  func.return %r : tensor<1x4x1x5xf32>
}
// CHECK: qtrain.conv_transpose2d: output size [-1, 5] is empty

// -----

// the result size is (H-1)*s - pads + k + output_padding = 6, not 5
func.func @ct_result(%x: tensor<1x2x3x3xf32>, %w: tensor<2x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x5x5xf32> {
  %r = qtrain.conv_transpose2d %x, %w, %b stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x2x3x3xf32>, tensor<2x4x3x3xf32>, tensor<4xf32>) -> tensor<1x4x5x5xf32>
  func.return %r : tensor<1x4x5x5xf32>
}
// CHECK: qtrain.conv_transpose2d: result has shape [1, 4, 5, 5] but expected [1, 4, 6, 6]

// -----

// ==== qtrain.conv_transpose2d_grad_input ========================================================

// f32 operands
func.func @cgi_f32(%dy: tensor<1x4x6x6xi32>, %w: tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %r = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x4x6x6xi32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %r : tensor<1x2x3x3xf32>
}
// CHECK: qtrain.conv_transpose2d_grad_input: output error must have element type f32, got i32

// -----

// the result has the NCHW input's shape
func.func @cgi_rank(%dy: tensor<1x4x6x6xf32>, %w: tensor<2x4x3x3xf32>) -> tensor<2x3x3xf32> {
  %r = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>) -> tensor<2x3x3xf32>
  func.return %r : tensor<2x3x3xf32>
}
// CHECK: qtrain.conv_transpose2d_grad_input: result must have rank 4, got shape [2, 3, 3]

// -----

// weight rank
func.func @cgi_weight_rank(%dy: tensor<1x4x6x6xf32>, %w: tensor<2x4x3xf32>) -> tensor<1x2x3x3xf32> {
  %r = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x4x6x6xf32>, tensor<2x4x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %r : tensor<1x2x3x3xf32>
}
// CHECK: qtrain.conv_transpose2d_grad_input: weight must have rank 4, got shape [2, 4, 3]

// -----

// the weight's first axis is the result's channels
func.func @cgi_channels(%dy: tensor<1x4x6x6xf32>, %w: tensor<2x4x3x3xf32>) -> tensor<1x3x3x3xf32> {
  %r = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>) -> tensor<1x3x3x3xf32>
  func.return %r : tensor<1x3x3x3xf32>
}
// CHECK: qtrain.conv_transpose2d_grad_input: weight has 2 input channels but the result has 3

// -----

// _ints
func.func @cgi_padding(%dy: tensor<1x4x6x6xf32>, %w: tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %r = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1] output_padding [1, 1] : (tensor<1x4x6x6xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %r : tensor<1x2x3x3xf32>
}
// CHECK: qtrain.conv_transpose2d_grad_input: padding must have 4 values, got 2

// -----

// the output error has the forward output's shape
func.func @cgi_error_shape(%dy: tensor<1x4x5x5xf32>, %w: tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %r = qtrain.conv_transpose2d_grad_input %dy, %w stride [2, 2] padding [1, 1, 1, 1] output_padding [1, 1] : (tensor<1x4x5x5xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %r : tensor<1x2x3x3xf32>
}
// CHECK: qtrain.conv_transpose2d_grad_input: output error has shape [1, 4, 5, 5] but expected [1, 4, 6, 6]

// -----

// ==== sigmoid, exp and their gradients ==========================================================

func.func @sigmoid_f32(%x: tensor<2x3xi32>) -> tensor<2x3xi32> {
  %r = qtrain.sigmoid %x : tensor<2x3xi32>
  func.return %r : tensor<2x3xi32>
}
// CHECK: qtrain.sigmoid: input must have element type f32, got i32

// -----

func.func @exp_f32(%x: tensor<2x3xf16>) -> tensor<2x3xf16> {
  %r = qtrain.exp %x : tensor<2x3xf16>
  func.return %r : tensor<2x3xf16>
}
// CHECK: qtrain.exp: input must have element type f32, got f16

// -----

func.func @sigmoid_grad_f32(%dy: tensor<2x3xf64>) -> tensor<2x3xf64> {
  %r = qtrain.sigmoid_grad %dy, %dy : tensor<2x3xf64>
  func.return %r : tensor<2x3xf64>
}
// CHECK: qtrain.sigmoid_grad: output error must have element type f32, got f64

// -----

func.func @exp_grad_dynamic(%dy: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %r = qtrain.exp_grad %dy, %dy : tensor<?x3xf32>
  func.return %r : tensor<?x3xf32>
}
// CHECK: qtrain.exp_grad: output error has a dynamic shape tensor<?x3xf32>; odtc needs static shapes

// -----

// ==== qtrain.reparameterize and its gradient ====================================================

func.func @rp_f32(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf16>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize %mu, %lv seed 0 : (tensor<1x5xf32>, tensor<1x5xf16>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize: logvar must have element type f32, got f16

// -----

// mu and logvar have one shape (_require_same_shape)
func.func @rp_shapes(%mu: tensor<1x5xf32>, %lv: tensor<1x4xf32>, %s: tensor<i32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize %mu, %lv step %s seed 0 : (tensor<1x5xf32>, tensor<1x4xf32>, tensor<i32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize: mu shape [1, 5] and logvar shape [1, 4] differ

// -----

// the sample has mu's shape
func.func @rp_result(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>) -> tensor<5xf32> {
  %r = qtrain.reparameterize %mu, %lv seed 0 : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<5xf32>
  func.return %r : tensor<5xf32>
}
// CHECK: qtrain.reparameterize: result has shape [5] but expected [1, 5]

// -----

// the step counter is a scalar i32 (_require_step)
func.func @rp_step_shape(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<1xi32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize %mu, %lv step %s seed 0 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<1xi32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize: step must be tensor<i32>, got tensor<1xi32>

// -----

func.func @rp_step_type(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i64>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize %mu, %lv step %s seed 0 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i64>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize: step must be tensor<i32>, got tensor<i64>

// -----

func.func @rp_step_dynamic(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<?xi32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize %mu, %lv step %s seed 0 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<?xi32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize: step has a dynamic shape tensor<?xi32>; odtc needs static shapes

// -----

// seed in [0, 2^31)
func.func @rp_seed_negative(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize %mu, %lv seed -1 : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize: seed must be in [0, 2^31), got -1

// -----

func.func @rp_seed_large(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize %mu, %lv step %s seed 2147483648 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize: seed must be in [0, 2^31), got 2147483648

// -----

func.func @rg_f32(%dz: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>) -> tensor<1x5xf64> {
  %r = qtrain.reparameterize_grad_logvar %dz, %lv step %s seed 0 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf64>
  func.return %r : tensor<1x5xf64>
}
// CHECK: qtrain.reparameterize_grad_logvar: result must have element type f32, got f64

// -----

func.func @rg_shapes(%dz: tensor<1x6xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize_grad_logvar %dz, %lv step %s seed 0 : (tensor<1x6xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize_grad_logvar: output error shape [1, 6] and logvar shape [1, 5] differ

// -----

func.func @rg_result(%dz: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>) -> tensor<5x1xf32> {
  %r = qtrain.reparameterize_grad_logvar %dz, %lv step %s seed 0 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<5x1xf32>
  func.return %r : tensor<5x1xf32>
}
// CHECK: qtrain.reparameterize_grad_logvar: result has shape [5, 1] but expected [1, 5]

// -----

func.func @rg_step(%dz: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<f32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize_grad_logvar %dz, %lv step %s seed 0 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<f32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize_grad_logvar: step must be tensor<i32>, got tensor<f32>

// -----

func.func @rg_seed(%dz: tensor<1x5xf32>, %lv: tensor<1x5xf32>, %s: tensor<i32>) -> tensor<1x5xf32> {
  %r = qtrain.reparameterize_grad_logvar %dz, %lv step %s seed 2147483648 : (tensor<1x5xf32>, tensor<1x5xf32>, tensor<i32>) -> tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.reparameterize_grad_logvar: seed must be in [0, 2^31), got 2147483648

// -----

// ==== qtrain.kl_divergence and its gradients ====================================================

func.func @kl_f32(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>) -> tensor<i32> {
  %r = qtrain.kl_divergence %mu, %lv beta 1.000000e+00 : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<i32>
  func.return %r : tensor<i32>
}
// CHECK: qtrain.kl_divergence: loss must have element type f32, got i32

// -----

func.func @kl_shapes(%mu: tensor<1x5xf32>, %lv: tensor<5x1xf32>) -> tensor<f32> {
  %r = qtrain.kl_divergence %mu, %lv beta 1.000000e+00 : (tensor<1x5xf32>, tensor<5x1xf32>) -> tensor<f32>
  func.return %r : tensor<f32>
}
// CHECK: qtrain.kl_divergence: mu shape [1, 5] and logvar shape [5, 1] differ

// -----

// the loss is a scalar
func.func @kl_loss_shape(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>) -> tensor<1xf32> {
  %r = qtrain.kl_divergence %mu, %lv beta 1.000000e+00 : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<1xf32>
  func.return %r : tensor<1xf32>
}
// CHECK: qtrain.kl_divergence: loss has shape [1] but expected []

// -----

// beta >= 0 (_check_beta)
func.func @kl_beta(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>) -> tensor<f32> {
  %r = qtrain.kl_divergence %mu, %lv beta -5.000000e-01 : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
  func.return %r : tensor<f32>
}
// CHECK: qtrain.kl_divergence: beta must be >= 0, got -0.5

// -----

// NaN is not >= 0 either
func.func @kl_beta_nan(%mu: tensor<1x5xf32>, %lv: tensor<1x5xf32>) -> tensor<f32> {
  %r = "qtrain.kl_divergence"(%mu, %lv) <{beta = 0x7FF8000000000000 : f64}> : (tensor<1x5xf32>, tensor<1x5xf32>) -> tensor<f32>
  func.return %r : tensor<f32>
}
// CHECK: qtrain.kl_divergence: beta must be >= 0, got nan

// -----

func.func @klmu_f32(%mu: tensor<1x5xf16>) -> tensor<1x5xf16> {
  %r = qtrain.kl_divergence_grad_mu %mu beta 1.000000e+00 : tensor<1x5xf16>
  func.return %r : tensor<1x5xf16>
}
// CHECK: qtrain.kl_divergence_grad_mu: mu must have element type f32, got f16

// -----

func.func @klmu_beta(%mu: tensor<1x5xf32>) -> tensor<1x5xf32> {
  %r = qtrain.kl_divergence_grad_mu %mu beta -1.000000e+00 : tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.kl_divergence_grad_mu: beta must be >= 0, got -1.0

// -----

func.func @kllv_f32(%lv: tensor<1x5xi32>) -> tensor<1x5xi32> {
  %r = qtrain.kl_divergence_grad_logvar %lv beta 1.000000e+00 : tensor<1x5xi32>
  func.return %r : tensor<1x5xi32>
}
// CHECK: qtrain.kl_divergence_grad_logvar: logvar must have element type f32, got i32

// -----

func.func @kllv_beta(%lv: tensor<1x5xf32>) -> tensor<1x5xf32> {
  %r = qtrain.kl_divergence_grad_logvar %lv beta -2.000000e+00 : tensor<1x5xf32>
  func.return %r : tensor<1x5xf32>
}
// CHECK: qtrain.kl_divergence_grad_logvar: beta must be >= 0, got -2.0

// -----

// ==== qtrain.sigmoid_bce and its gradient =======================================================

func.func @bce_f32(%l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xi8>) -> tensor<f32> {
  %r = qtrain.sigmoid_bce %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xi8>) -> tensor<f32>
  func.return %r : tensor<f32>
}
// CHECK: qtrain.sigmoid_bce: target must have element type f32, got i8

// -----

func.func @bce_shapes(%l: tensor<1x1x4x4xf32>, %t: tensor<1x16xf32>) -> tensor<f32> {
  %r = qtrain.sigmoid_bce %l, %t : (tensor<1x1x4x4xf32>, tensor<1x16xf32>) -> tensor<f32>
  func.return %r : tensor<f32>
}
// CHECK: qtrain.sigmoid_bce: logits shape [1, 1, 4, 4] and target shape [1, 16] differ

// -----

func.func @bce_loss(%l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xf32>) -> tensor<1x1xf32> {
  %r = qtrain.sigmoid_bce %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1xf32>
  func.return %r : tensor<1x1xf32>
}
// CHECK: qtrain.sigmoid_bce: loss has shape [1, 1] but expected []

// -----

func.func @bceg_f32(%l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf16> {
  %r = qtrain.sigmoid_bce_grad %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf16>
  func.return %r : tensor<1x1x4x4xf16>
}
// CHECK: qtrain.sigmoid_bce_grad: result must have element type f32, got f16

// -----

func.func @bceg_shapes(%l: tensor<1x1x4x5xf32>, %t: tensor<1x1x4x4xf32>) -> tensor<1x1x4x5xf32> {
  %r = qtrain.sigmoid_bce_grad %l, %t : (tensor<1x1x4x5xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x4x5xf32>
  func.return %r : tensor<1x1x4x5xf32>
}
// CHECK: qtrain.sigmoid_bce_grad: logits shape [1, 1, 4, 5] and target shape [1, 1, 4, 4] differ

// -----

func.func @bceg_result(%l: tensor<1x1x4x4xf32>, %t: tensor<1x1x4x4xf32>) -> tensor<1x1x2x8xf32> {
  %r = qtrain.sigmoid_bce_grad %l, %t : (tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x1x2x8xf32>
  func.return %r : tensor<1x1x2x8xf32>
}
// CHECK: qtrain.sigmoid_bce_grad: result has shape [1, 1, 2, 8] but expected [1, 1, 4, 4]

// -----

// ==== qtrain.qconv_transpose2d_acc (generic syntax) =============================================

// 8-bit operands (_q8)
func.func @qa_storage(%x: tensor<1x2x3x3x!qtrain.q<si16, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<si16, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: input must have 8-bit storage, got !qtrain.q<si16, asym>

// -----

// per-tensor quantization (_q8)
func.func @qa_per_channel(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym, axis 1>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym, axis 1>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: weight must be quantized per tensor, got !qtrain.q<si8, sym, axis 1>

// -----

// quantized input (_require_quant)
func.func @qa_float(%x: tensor<1x2x3x3xf32>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3xf32>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: input must be a quantized tensor (!qtrain.q), got f32

// -----

// scalar i32 zero-points (_zp)
func.func @qa_zero_point(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<1xi32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<1xi32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: input zero-point must be tensor<i32>, got tensor<1xi32>

// -----

// an int32 accumulator result (_require_acc)
func.func @qa_result_type(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, asym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, asym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, asym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: result must be an accumulator tensor of !qtrain.q<si32, sym>, got !qtrain.q<si32, asym>

// -----

func.func @qa_bias_without_scale(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %b: tensor<4xf32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw, %b) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xf32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: a bias needs the accumulator scale

// -----

func.func @qa_rank(%x: tensor<1x2x9x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x9x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: input must have rank 4, got shape [1, 2, 9]

// -----

func.func @qa_channels(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<3x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<3x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: weight has 3 input channels but input has 2

// -----

func.func @qa_bias_f32(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %b: tensor<4xi32>, %sa: tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw, %b, %sa) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<4xi32>, tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: bias must have element type f32, got i32

// -----

func.func @qa_bias_shape(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>, %b: tensor<2xf32>, %sa: tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw, %b, %sa) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>, tensor<2xf32>, tensor<f32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: bias has shape [2] but expected [4]

// -----

func.func @qa_output_padding(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: output_padding must have 2 values, got 1

// -----

func.func @qa_result_shape(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, sym>>, %zw: tensor<i32>) -> tensor<1x4x5x5x!qtrain.q<si32, sym>> {
  %r = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, sym>>, tensor<i32>) -> tensor<1x4x5x5x!qtrain.q<si32, sym>>
  func.return %r : tensor<1x4x5x5x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: result has shape [1, 4, 5, 5] but expected [1, 4, 6, 6]

// -----

// ==== qtrain.qconv_transpose2d_grad_weight ======================================================

func.func @qg_storage(%x: tensor<1x2x3x3x!qtrain.q<si32, sym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<si32, sym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: input must have 8-bit storage, got !qtrain.q<si32, sym>

// -----

// the error is signed int8
func.func @qg_unsigned_error(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<ui8, asym>>, %ze: tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<ui8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: output error must be signed int8, got !qtrain.q<ui8, asym>

// -----

func.func @qg_zero_point(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<f32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<f32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: output error zero-point must be tensor<i32>, got tensor<f32>

// -----

func.func @qg_result_type(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> tensor<2x4x3x3xf32> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3xf32>
  func.return %r : tensor<2x4x3x3xf32>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: result must be an accumulator tensor of !qtrain.q<si32, sym>, got f32

// -----

func.func @qg_rank(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: output error must have rank 4, got shape [4, 6, 6]

// -----

func.func @qg_channels(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> tensor<3x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<3x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<3x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: result has 3 input channels but input has 2

// -----

func.func @qg_stride(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 0] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: stride values must be >= 1, got [2, 0]

// -----

// the error is 5 or 6 rows (5 + output_padding < stride), not 7
func.func @qg_error_shape(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x7x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x7x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: output error shape [1, 4, 7, 6] is not the conv-transpose output of input [1, 2, 3, 3] with weight [2, 4, 3, 3]

// -----

// output channels of error and result agree
func.func @qg_error_channels(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x3x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>> {
  %r = qtrain.qconv_transpose2d_grad_weight %x[%zx], %e[%ze] stride [2, 2] padding [1, 1, 1, 1] : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x3x6x6x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<2x4x3x3x!qtrain.q<si32, sym>>
  func.return %r : tensor<2x4x3x3x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_grad_weight: output error shape [1, 3, 6, 6] is not the conv-transpose output of input [1, 2, 3, 3] with weight [2, 4, 3, 3]

// -----

// the accumulator scale of a biased qconv_transpose2d_acc must be tensor<f32>
func.func @qct_acc_scale(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %b: tensor<4xf32>, %s: tensor<3x7xi8>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>> {
  %acc = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw, %b, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 0, 0>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<3x7xi8>) -> tensor<1x4x6x6x!qtrain.q<si32, sym>>
  func.return %acc : tensor<1x4x6x6x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: accumulator scale must be tensor<f32>, got tensor<3x7xi8>

// -----

// the conv-transpose geometry rules hold for the accumulating op too
func.func @qct_acc_outpad(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>) -> tensor<1x4x5x5x!qtrain.q<si32, sym>> {
  %acc = "qtrain.qconv_transpose2d_acc"(%x, %zx, %w, %zw) <{stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>) -> tensor<1x4x5x5x!qtrain.q<si32, sym>>
  func.return %acc : tensor<1x4x5x5x!qtrain.q<si32, sym>>
}
// CHECK: qtrain.qconv_transpose2d_acc: output_padding [1, 1] must be smaller than the stride [1, 1] per axis

// -----

func.func @ct_grad_input_pad(%dy: tensor<1x4x3x3xf32>, %w: tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %dx = qtrain.conv_transpose2d_grad_input %dy, %w stride [1, 1] padding [3, 3, 0, 0] output_padding [0, 0] : (tensor<1x4x3x3xf32>, tensor<2x4x3x3xf32>) -> tensor<1x2x3x3xf32>
  func.return %dx : tensor<1x2x3x3xf32>
}
// CHECK: qtrain.conv_transpose2d_grad_input: padding [3, 3, 0, 0] leaves no kernel tap of [3, 3] inside the output

// -----

// ==== qtrain.qconv_transpose2d_grad_weight_sgd ==================================================

qtrain.param @d.weight trainable : tensor<2x4x3x3x!qtrain.q<si8, asym>> = dense<1> : tensor<2x4x3x3xi8>
qtrain.state @d.weight.row_range : tensor<2x2xi32> = dense<0> : tensor<2x2xi32>
func.func @f(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %s: tensor<f32>, %idx: tensor<2xi32>, %k: tensor<i32>) {
  "qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %ze, %s, %s, %zx, %idx, %k) <{param = @d.weight, row_range = @d.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>, tensor<2xi32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qconv_transpose2d_grad_weight_sgd: takes no select list: its rows are input channels, every row is updated

// -----

qtrain.param @d.weight trainable : tensor<2x3x3x3x!qtrain.q<si8, asym>> = dense<1> : tensor<2x3x3x3xi8>
qtrain.state @d.weight.row_range : tensor<2x2xi32> = dense<0> : tensor<2x2xi32>
func.func @f(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %s: tensor<f32>) {
  "qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %ze, %s, %s, %zx) <{param = @d.weight, row_range = @d.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qconv_transpose2d_grad_weight_sgd: @d.weight has shape [2, 3, 3, 3] but the input has 2 channels and the output error 4

// -----

qtrain.param @d.weight trainable : tensor<2x4x3x3x!qtrain.q<si8, asym>> = dense<1> : tensor<2x4x3x3xi8>
qtrain.state @d.weight.row_range : tensor<2x2xi32> = dense<0> : tensor<2x2xi32>
func.func @f(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x8x8x!qtrain.q<si8, asym>>, %ze: tensor<i32>, %s: tensor<f32>) {
  "qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %ze, %s, %s, %zx) <{param = @d.weight, row_range = @d.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x8x8x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qconv_transpose2d_grad_weight_sgd: output error shape [1, 4, 8, 8] is not the conv-transpose output of input [1, 2, 3, 3] with weight [2, 4, 3, 3]

// -----

qtrain.param @d.weight trainable : tensor<2x4x3x3x!qtrain.q<si8, asym>> = dense<1> : tensor<2x4x3x3xi8>
qtrain.state @d.weight.row_range : tensor<2x2xi32> = dense<0> : tensor<2x2xi32>
func.func @f(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %e: tensor<1x4x6x6x!qtrain.q<ui8, asym>>, %ze: tensor<i32>, %s: tensor<f32>) {
  "qtrain.qconv_transpose2d_grad_weight_sgd"(%x, %zx, %e, %ze, %s, %s, %zx) <{param = @d.weight, row_range = @d.weight.row_range, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, lr = 1.000000e-02 : f64, rounding = "nearest", seed = 0 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<1x4x6x6x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> ()
  func.return
}
// CHECK: qtrain.qconv_transpose2d_grad_weight_sgd: output error must be signed int8, got !qtrain.q<ui8, asym>

// -----

// ==== qtrain.qconv_transpose2d_acc_stream ========================================================

func.func @f(%x: tensor<1x3x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<2xf32> {
  %r = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %s) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 0>}> : (tensor<1x3x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>) -> tensor<2xf32>
  func.return %r : tensor<2xf32>
}
// CHECK: qtrain.qconv_transpose2d_acc_stream: weight has 2 input channels but input has 3

// -----

func.func @f(%x: tensor<1x2x3x3x!qtrain.q<ui8, asym>>, %zx: tensor<i32>, %w: tensor<2x4x3x3x!qtrain.q<si8, asym>>, %zw: tensor<i32>, %s: tensor<f32>) -> tensor<1x4x5x5x!qtrain.q<ui8, asym>> {
  %r = "qtrain.qconv_transpose2d_acc_stream"(%x, %zx, %w, %zw, %s, %s, %zx) <{stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1>}> : (tensor<1x2x3x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x3x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<1x4x5x5x!qtrain.q<ui8, asym>>
  func.return %r : tensor<1x4x5x5x!qtrain.q<ui8, asym>>
}
// CHECK: qtrain.qconv_transpose2d_acc_stream: result has shape [1, 4, 5, 5], the accumulator [1, 4, 6, 6]
