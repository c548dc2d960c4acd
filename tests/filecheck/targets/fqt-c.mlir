// The fully-quantized-training ops lowered to the runtime/c/src/fqt.c kernels (and the
// reused int8 grad kernels), and the c target's float view of a quantized parameter.
//
// convert-qtrain-to-c: each FQT op becomes one ckern.call with the argument order of its
// odtc_kernels.h prototype. Scalars (scales, zero-points, counts, the step) are passed by
// pointer; scalar results (scale_mul, range_scale, range_zero_point, topk_count) are
// returned (`result = ...`); 8-bit storage is passed as ODTC_S8 = 0 / ODTC_U8 = 1 and the
// gradient type as ODTC_S32 = 3 (int32 accumulator) / ODTC_F32 = 4; attributes (alpha,
// lr, lambdas) are f32. qdense_acc and topk_structures get their planned scratch
// (qtrain.scratch_offset); absent optional operands are NULL refs; a selection is passed
// as (select, count) pointers. qsgd_update reads and writes the parameter global p0 in
// place (seed and rounding last: stochastic = 1, seed 42).
//
// The quantized parameter's `qtrain.scale` / `qtrain.zero_point` become `ckern.scale` /
// `ckern.zero_point` on its ckern.global (the C names of the states), and the c target
// prints odtc_param_read / odtc_param_write as scale * (q - zero_point) and
// clamp(rintf(x / scale) + zero_point) through odtc_dequantize / odtc_quantize; float
// parameters in the same table keep the memcpy path (storage -1).
//
// RUN: odtc-opt %s -p 'qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' | filecheck %s --match-full-lines --check-prefix=IR
// RUN: odtc-opt %s -p 'qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' -t c | filecheck %s --match-full-lines --check-prefix=C
// RUN: odtc-opt %s -p 'qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' -t 'c{file=header}' | filecheck %s --match-full-lines --check-prefix=HEADER
//
// A qtrain.scale that does not name an f32 scalar state is refused.
// RUN: sed 's/qtrain.scale = @fc.weight.scale/qtrain.scale = @step/' %s | not odtc-opt -p 'qtrain-bufferize,qtrain-plan-buffers,convert-qtrain-to-c' 2>&1 | filecheck %s --match-full-lines --check-prefix=BADSCALE
// BADSCALE: odtc-opt: error: convert-qtrain-to-c: @fc.weight: qtrain.scale must name a qtrain.state of type tensor<f32> (or tensor<4xf32>, one per row), got @step

qtrain.param @fc.weight trainable : tensor<4x3x!qtrain.q<si8, asym>> = dense<[[1, -2, 3], [4, 5, -6], [7, -8, 9], [-10, 11, 12]]> : tensor<4x3xi8> {qtrain.scale = @fc.weight.scale, qtrain.zero_point = @fc.weight.zero_point}
qtrain.param @fc.bias frozen : tensor<4xf32> = dense<5.000000e-01> : tensor<4xf32>
qtrain.state @fc.weight.scale : tensor<f32> = dense<2.500000e-01> : tensor<f32>
qtrain.state @fc.weight.zero_point : tensor<i32> = dense<-3> : tensor<i32>
qtrain.state @x.scale : tensor<f32> = dense<1.250000e-01> : tensor<f32>
qtrain.state @x.zero_point : tensor<i32> = dense<128> : tensor<i32>
qtrain.state @y.range : tensor<2xf32> = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
qtrain.state @step : tensor<i32> = dense<0> : tensor<i32>
func.func @train_step(%x: tensor<2x3x!qtrain.q<ui8, asym>>, %e: tensor<2x4x!qtrain.q<si8, asym>>) -> tensor<f32> {
  %sx = qtrain.load @x.scale : tensor<f32>
  %zx = qtrain.load @x.zero_point : tensor<i32>
  %w = qtrain.load @fc.weight : tensor<4x3x!qtrain.q<si8, asym>>
  %sw = qtrain.load @fc.weight.scale : tensor<f32>
  %zw = qtrain.load @fc.weight.zero_point : tensor<i32>
  %b = qtrain.load @fc.bias : tensor<4xf32>
  %r = qtrain.load @y.range : tensor<2xf32>
  %t = qtrain.load @step : tensor<i32>
  %sacc = qtrain.scale_mul %sx, %sw : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %acc = "qtrain.qdense_acc"(%x, %zx, %w, %zw, %b, %sacc) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<2x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<4x3x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xf32>, tensor<f32>) -> tensor<2x4x!qtrain.q<si32, sym>>
  %m = qtrain.minmax %acc scale %sacc : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>) -> tensor<2xf32>
  %r2 = qtrain.ema %r, %m alpha 1.000000e-01 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  qtrain.store %r2, @y.range : tensor<2xf32>
  %sy = qtrain.range_scale %r2 for <si8, asym> : (tensor<2xf32>) -> tensor<f32>
  %zy = qtrain.range_zero_point %r2 for <si8, asym> : (tensor<2xf32>) -> tensor<i32>
  %y = qtrain.requantize_acc %acc[%sacc] -> [%sy, %zy] : (tensor<2x4x!qtrain.q<si32, sym>>, tensor<f32>, tensor<f32>, tensor<i32>) -> tensor<2x4x!qtrain.q<si8, asym>>
  %k = qtrain.topk_count %sx, %sw lambda_min 5.000000e-01 lambda_max 1.000000e+00 structures 4 : (tensor<f32>, tensor<f32>) -> tensor<i32>
  %idx = qtrain.topk_structures %e[%zy], %k : (tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<i32>) -> tensor<4xi32>
  %g = "qtrain.qdense_grad_weight"(%x, %zx, %e, %zy, %idx, %k) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>}> : (tensor<2x3x!qtrain.q<ui8, asym>>, tensor<i32>, tensor<2x4x!qtrain.q<si8, asym>>, tensor<i32>, tensor<4xi32>, tensor<i32>) -> tensor<4x3x!qtrain.q<si32, sym>>
  %st = "qtrain.grad_stats"(%g, %idx, %k) <{mode = "standardize", operandSegmentSizes = array<i32: 1, 0, 0, 1, 1>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<4xi32>, tensor<i32>) -> tensor<4x2xf32>
  "qtrain.qsgd_update"(%g, %st, %sw, %zw, %sw, %zw, %idx, %k, %t) <{param = @fc.weight, lr = 1.000000e-02 : f64, rounding = "stochastic", seed = 42 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1>}> : (tensor<4x3x!qtrain.q<si32, sym>>, tensor<4x2xf32>, tensor<f32>, tensor<i32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>) -> ()
  func.return %sy : tensor<f32>
}

// IR:      "ckern.global"() <{source_name = "fc.weight", ctype = "int8_t", shape = array<i64: 4, 3>, init = {{.*}}, kind = "trainable", param_index = 0 : i64, sym_name = "p0"}> {ckern.scale = "s0", ckern.zero_point = "s1"} : () -> ()
// IR-LABEL: "ckern.func"() <{sym_name = "odtc_train_step", arena_bytes = 112 : i64}> ({
// IR-NEXT:  "ckern.call"() <{callee = "odtc_scale_mul", args = [#ckern.ref<"global", "s2", #builtin.int<0>, "float">, #ckern.ref<"global", "s0", #builtin.int<0>, "float">], result = #ckern.ref<"arena", "", #builtin.int<56>, "float">}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_qdense_acc_u8", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "uint8_t">, #ckern.ref<"global", "s3", #builtin.int<0>, "int32_t">, #ckern.ref<"global", "p0", #builtin.int<0>, "int8_t">, #ckern.ref<"global", "s1", #builtin.int<0>, "int32_t">, 0 : i32, #ckern.ref<"global", "p1", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<56>, "float">, #ckern.ref<"arena", "", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<32>, "int32_t">, 2 : i32, 3 : i32, 4 : i32]}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_minmax_acc", args = [#ckern.ref<"arena", "", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<56>, "float">, #ckern.ref<"arena", "", #builtin.int<32>, "float">, 8 : i32]}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_ema_range", args = [#ckern.ref<"global", "s4", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<32>, "float">, #ckern.ref<"arena", "", #builtin.int<40>, "float">, 1.000000e-01 : f32]}> : () -> ()
// IR-NEXT:  "ckern.copy"() <{dst = #ckern.ref<"global", "s4", #builtin.int<0>, "float">, src = #ckern.ref<"arena", "", #builtin.int<40>, "float">, bytes = 8 : i64}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_range_scale", args = [#ckern.ref<"arena", "", #builtin.int<40>, "float">, -128 : i32, 127 : i32, 0 : i32], result = #ckern.ref<"arena", "", #builtin.int<96>, "float">}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_range_zero_point", args = [#ckern.ref<"arena", "", #builtin.int<40>, "float">, -128 : i32, 127 : i32, 0 : i32], result = #ckern.ref<"arena", "", #builtin.int<48>, "int32_t">}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_requantize_acc", args = [#ckern.ref<"arena", "", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<32>, "int8_t">, 0 : i32, 8 : i32, #ckern.ref<"arena", "", #builtin.int<56>, "float">, #ckern.ref<"arena", "", #builtin.int<96>, "float">, #ckern.ref<"arena", "", #builtin.int<48>, "int32_t">]}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_topk_count", args = [#ckern.ref<"global", "s2", #builtin.int<0>, "float">, #ckern.ref<"global", "s0", #builtin.int<0>, "float">, 5.000000e-01 : f32, 1.000000e+00 : f32, 4 : i32], result = #ckern.ref<"arena", "", #builtin.int<104>, "int32_t">}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_topk_structures", args = [#ckern.ref<"arg", "target", #builtin.int<0>, "int8_t">, 0 : i32, #ckern.ref<"arena", "", #builtin.int<48>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<104>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<80>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<0>, "int32_t">, 2 : i32, 4 : i32, 1 : i32]}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_qdense_grad_weight_u8", args = [#ckern.ref<"arg", "input", #builtin.int<0>, "uint8_t">, #ckern.ref<"global", "s3", #builtin.int<0>, "int32_t">, #ckern.ref<"arg", "target", #builtin.int<0>, "int8_t">, #ckern.ref<"arena", "", #builtin.int<48>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<80>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<104>, "int32_t">, 2 : i32, 3 : i32, 4 : i32]}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_grad_stats", args = [#ckern.ref<"arena", "", #builtin.int<0>, "int32_t">, 3 : i32, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"null", "", #builtin.int<0>, "float">, #ckern.ref<"arena", "", #builtin.int<48>, "float">, #ckern.ref<"arena", "", #builtin.int<80>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<104>, "int32_t">, 4 : i32, 3 : i32, 0 : i32]}> : () -> ()
// IR-NEXT:  "ckern.call"() <{callee = "odtc_qsgd_update", args = [#ckern.ref<"global", "p0", #builtin.int<0>, "int8_t">, 0 : i32, #ckern.ref<"global", "s0", #builtin.int<0>, "float">, #ckern.ref<"global", "s1", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<0>, "int32_t">, 3 : i32, #ckern.ref<"arena", "", #builtin.int<48>, "float">, #ckern.ref<"global", "s0", #builtin.int<0>, "float">, #ckern.ref<"global", "s1", #builtin.int<0>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<80>, "int32_t">, #ckern.ref<"arena", "", #builtin.int<104>, "int32_t">, #ckern.ref<"global", "s5", #builtin.int<0>, "int32_t">, 4 : i32, 3 : i32, 1.000000e-02 : f32, 1 : i32, 42 : i32]}> : () -> ()
// IR-NEXT:  "ckern.return"() <{value = #ckern.ref<"arena", "", #builtin.int<96>, "float">}> : () -> ()

// C-LABEL: float odtc_train_step(const void *input_, const void *target_)
// C-NEXT:  {
// C-NEXT:      const uint8_t *input = (const uint8_t *)input_;
// C-NEXT:      const int8_t *target = (const int8_t *)target_;
// C-NEXT:      *ODTC_ARENA(float, 56) = odtc_scale_mul(s2, s0);
// C-NEXT:      odtc_qdense_acc_u8(input, s3, p0, s1, 0, p1, ODTC_ARENA(float, 56), ODTC_ARENA(int32_t, 0), ODTC_ARENA(int32_t, 32), 2, 3, 4);
// C-NEXT:      odtc_minmax_acc(ODTC_ARENA(int32_t, 0), ODTC_ARENA(float, 56), ODTC_ARENA(float, 32), 8);
// C-NEXT:      odtc_ema_range(s4, ODTC_ARENA(float, 32), ODTC_ARENA(float, 40), 0x1.99999a0000000p-4f);
// C-NEXT:      memcpy(s4, ODTC_ARENA(float, 40), 8u);
// C-NEXT:      *ODTC_ARENA(float, 96) = odtc_range_scale(ODTC_ARENA(float, 40), -128, 127, 0);
// C-NEXT:      *ODTC_ARENA(int32_t, 48) = odtc_range_zero_point(ODTC_ARENA(float, 40), -128, 127, 0);
// C-NEXT:      odtc_requantize_acc(ODTC_ARENA(int32_t, 0), ODTC_ARENA(int8_t, 32), 0, 8, ODTC_ARENA(float, 56), ODTC_ARENA(float, 96), ODTC_ARENA(int32_t, 48));
// C-NEXT:      *ODTC_ARENA(int32_t, 104) = odtc_topk_count(s2, s0, 0x1.0000000000000p-1f, 0x1.0000000000000p+0f, 4);
// C-NEXT:      odtc_topk_structures(target, 0, ODTC_ARENA(int32_t, 48), ODTC_ARENA(int32_t, 104), ODTC_ARENA(int32_t, 80), ODTC_ARENA(int32_t, 0), 2, 4, 1);
// C-NEXT:      odtc_qdense_grad_weight_u8(input, s3, target, ODTC_ARENA(int32_t, 48), ODTC_ARENA(int32_t, 0), ODTC_ARENA(int32_t, 80), ODTC_ARENA(int32_t, 104), 2, 3, 4);
// C-NEXT:      odtc_grad_stats(ODTC_ARENA(int32_t, 0), 3, NULL, NULL, ODTC_ARENA(float, 48), ODTC_ARENA(int32_t, 80), ODTC_ARENA(int32_t, 104), 4, 3, 0);
// C-NEXT:      odtc_qsgd_update(p0, 0, s0, s1, ODTC_ARENA(int32_t, 0), 3, ODTC_ARENA(float, 48), s0, s1, ODTC_ARENA(int32_t, 80), ODTC_ARENA(int32_t, 104), s5, 4, 3, 0x1.47ae140000000p-7f, 1, 42);
// C-NEXT:      return *ODTC_ARENA(float, 96);
// C-NEXT:  }
// C:       /* Integer parameters are viewed as float: read x = scale * (q - zero_point), write
// C-NEXT:     q = clamp(rintf(x / scale) + zero_point) (odtc_dequantize / odtc_quantize), with the
// C-NEXT:     parameter's current scale/zero-point state, or 1 and 0 for a plain integer tensor. */
// C-NEXT:  static const float odtc_unit_scale[1] = {1.0f};
// C-NEXT:  static const int32_t odtc_no_zero_point[1] = {0};
// C-EMPTY:
// C-NEXT:  static const struct {
// C-NEXT:      const char *name;
// C-NEXT:      const void *data;
// C-NEXT:      void *ram;
// C-NEXT:      size_t numel;
// C-NEXT:      int32_t storage; /* -1: float, else ODTC_S8 / ODTC_U8 / ODTC_S16 / ODTC_S32 */
// C-NEXT:      const float *scale;
// C-NEXT:      const int32_t *zero_point;
// C-NEXT:      size_t rows; /* 0: per tensor; else one scale / zero-point per row (per-channel weights) */
// C-NEXT:  } odtc_params[2] = {
// C-NEXT:      {"fc.weight", p0, p0, 12u, ODTC_S8, s0, s1, 0u},
// C-NEXT:      {"fc.bias", p1, NULL, 4u, -1, odtc_unit_scale, odtc_no_zero_point, 0u},
// C-NEXT:  };
// C-EMPTY:
// C-NEXT:  size_t odtc_param_count(void) { return 2u; }
// C-NEXT:  const char *odtc_param_name(size_t i) { return i < odtc_param_count() ? odtc_params[i].name : NULL; }
// C-NEXT:  size_t odtc_param_numel(size_t i) { return i < odtc_param_count() ? odtc_params[i].numel : 0u; }
// C-NEXT:  int odtc_param_writable(size_t i) { return i < odtc_param_count() && odtc_params[i].ram != NULL; }
// C-EMPTY:
// C-NEXT:  static size_t odtc_param_element_bytes(int32_t storage)
// C-NEXT:  {
// C-NEXT:      return storage < 0 ? sizeof(float) : storage == ODTC_S16 ? 2u : storage == ODTC_S32 ? 4u : 1u;
// C-NEXT:  }
// C-EMPTY:
// C-NEXT:  void odtc_param_read_range(size_t i, size_t offset, size_t count, float *dst)
// C-NEXT:  {
// C-NEXT:      if (i < odtc_param_count() && offset <= odtc_params[i].numel && count <= odtc_params[i].numel - offset) {
// C-NEXT:          const int32_t st = odtc_params[i].storage;
// C-NEXT:          const void *src = (const uint8_t *)odtc_params[i].data + offset * odtc_param_element_bytes(st);
// C-NEXT:          if (st < 0) {
// C-NEXT:              memcpy(dst, src, count * sizeof(float));
// C-NEXT:          } else if (odtc_params[i].rows == 0u) {
// C-NEXT:              odtc_dequantize(src, st, dst, count, 1u, 1u, odtc_params[i].scale, odtc_params[i].zero_point, 0);
// C-NEXT:          } else { /* per row: the run of each row in [offset, offset + count) with its parameters */
// C-NEXT:              const size_t row_len = odtc_params[i].numel / odtc_params[i].rows;
// C-NEXT:              for (size_t done = 0; done < count;) {
// C-NEXT:                  const size_t row = (offset + done) / row_len;
// C-NEXT:                  const size_t left = row_len - (offset + done) % row_len;
// C-NEXT:                  const size_t run = left < count - done ? left : count - done;
// C-NEXT:                  odtc_dequantize((const uint8_t *)src + done * odtc_param_element_bytes(st), st, dst + done, run,
// C-NEXT:                                  1u, 1u, odtc_params[i].scale + row, odtc_params[i].zero_point + row, 0);
// C-NEXT:                  done += run;
// C-NEXT:              }
// C-NEXT:          }
// C-NEXT:      }
// C-NEXT:  }
// C-EMPTY:
// C-NEXT:  void odtc_param_read(size_t i, float *dst)
// C-NEXT:  {
// C-NEXT:      if (i < odtc_param_count()) {
// C-NEXT:          odtc_param_read_range(i, 0u, odtc_params[i].numel, dst);
// C-NEXT:      }
// C-NEXT:  }
// C-EMPTY:
// C-NEXT:  void odtc_param_write(size_t i, const float *src)
// C-NEXT:  {
// C-NEXT:      if (odtc_param_writable(i)) {
// C-NEXT:          const int32_t st = odtc_params[i].storage;
// C-NEXT:          if (st < 0) {
// C-NEXT:              memcpy(odtc_params[i].ram, src, odtc_params[i].numel * sizeof(float));
// C-NEXT:          } else {
// C-NEXT:              const size_t rows = odtc_params[i].rows;
// C-NEXT:              odtc_quantize(src, odtc_params[i].ram, st, 1u, rows ? rows : odtc_params[i].numel,
// C-NEXT:                            rows ? odtc_params[i].numel / rows : 1u, odtc_params[i].scale,
// C-NEXT:                            odtc_params[i].zero_point, rows != 0u);
// C-NEXT:          }
// C-NEXT:      }
// C-NEXT:  }

// HEADER:      /* Integer (quantized) parameters are exchanged as float: odtc_param_read gives
// HEADER-NEXT:    scale * (q - zero_point) with the parameter's current scale and zero-point (1 and 0
// HEADER-NEXT:    for a plain integer parameter); odtc_param_write stores
// HEADER-NEXT:    q = clamp(rintf(x / scale) + zero_point, storage range) (NaN -> zero_point). */
