// A tiny variational autoencoder lowered to C by the driver's pipelines (`odtc compile
// --print-pipeline` with [train] loss = "elbo", kl_weight = 0.5, learning_rate = 0.5, and for
// U8 also [quantize] scheme = "u8-asym" and [memory] stream_accumulator_bytes = 1, with the
// stream pass's `all=true` so that every eligible accumulator is streamed): the VAE kernels
// of runtime/c/src/vae_f32.c and vae_q.c with the argument order of their odtc_kernels.h
// prototypes.
//
// The decoder's conv_transpose2d is deliberately lopsided (stride [2, 1], padding
// [1, 0, 0, 1], output_padding [1, 0], kernel 3x2, Cin 3 -> Cout 2, 2x3 -> 5x3), so a
// swapped height/width or pad argument shows. Its input gradient is a plain conv2d of the
// output error with the same weight (read as OIHW [Cin, Cout, kh, kw]: c = 2, o = 3, the
// output size 2x3 follows from 5x3), its weight gradient conv2d_grad_weight with input and
// error swapped (x = the error, dy = the decoder input; here fused with the SGD update).
// The sample reads the i32 state rng.step (s0) by value, `(*s0)`, in the forward and in
// reparameterize_f32_grad_logvar, which recomputes eps; odtc_counter_step advances it once,
// after its last reader. Inference (odtc_infer) uses z = mu: no sampling, and no log-variance
// head (qtrain-prune-frozen-backward drops it from @forward).
//
// RUN: odtc-opt %s -p 'qtrain-fold-batchnorm,qtrain-mark-trainable{mode=full trainable="*"},qtrain-autodiff{loss=elbo recon=bce kl-weight=0.5 optimizer=sgd lr=0.5 batch-size=1},qtrain-prune-frozen-backward,qtrain-fuse-updates,qtrain-schedule{alignment=8},qtrain-bufferize{inplace=true},qtrain-plan-buffers{alignment=8},convert-qtrain-to-c' -t c | filecheck %s --match-full-lines
// RUN: odtc-opt %s -p 'qtrain-fold-batchnorm,qtrain-mark-trainable{mode=full trainable="*"},qtrain-autodiff{loss=elbo recon=bce kl-weight=0.5 optimizer=sgd lr=0.5 batch-size=1},qtrain-prune-frozen-backward,qtrain-quantize{scheme=u8-asym errors=int8 normalize=none rounding=stochastic seed=0 alpha-w=0.1 alpha-a=0.1 alpha-e=1.0 update=fused headroom=0.0},qtrain-stream-accumulators{min-bytes=1 all=true},qtrain-fuse-updates,qtrain-schedule{alignment=8},qtrain-bufferize{inplace=true},qtrain-plan-buffers{alignment=8},convert-qtrain-to-c' -t c | filecheck %s --match-full-lines --check-prefix=U8

qtrain.param @vae.mu.weight trainable : tensor<2x30xf32> = dense<1.000000e-01> : tensor<2x30xf32>
qtrain.param @vae.mu.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @vae.logvar.weight trainable : tensor<2x30xf32> = dense<-1.000000e-01> : tensor<2x30xf32>
qtrain.param @vae.logvar.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
qtrain.param @vae.fc.weight trainable : tensor<18x2xf32> = dense<2.000000e-01> : tensor<18x2xf32>
qtrain.param @vae.fc.bias trainable : tensor<18xf32> = dense<0.000000e+00> : tensor<18xf32>
qtrain.param @vae.deconv.weight trainable : tensor<3x2x3x2xf32> = dense<5.000000e-02> : tensor<3x2x3x2xf32>
qtrain.param @vae.deconv.bias trainable : tensor<2xf32> = dense<0.000000e+00> : tensor<2xf32>
func.func @forward(%x: tensor<1x2x5x3xf32>) -> tensor<1x2x5x3xf32> {
  %f = qtrain.flatten %x axis 1 : tensor<1x2x5x3xf32> -> tensor<1x30xf32>
  %wm = qtrain.load @vae.mu.weight : tensor<2x30xf32>
  %bm = qtrain.load @vae.mu.bias : tensor<2xf32>
  %mu = qtrain.dense %f, %wm, %bm : (tensor<1x30xf32>, tensor<2x30xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %wl = qtrain.load @vae.logvar.weight : tensor<2x30xf32>
  %bl = qtrain.load @vae.logvar.bias : tensor<2xf32>
  %lv = qtrain.dense %f, %wl, %bl : (tensor<1x30xf32>, tensor<2x30xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  %z = qtrain.reparameterize %mu, %lv seed 7 : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<1x2xf32>
  %wf = qtrain.load @vae.fc.weight : tensor<18x2xf32>
  %bf = qtrain.load @vae.fc.bias : tensor<18xf32>
  %h = qtrain.dense %z, %wf, %bf : (tensor<1x2xf32>, tensor<18x2xf32>, tensor<18xf32>) -> tensor<1x18xf32>
  %a = qtrain.relu %h : tensor<1x18xf32>
  %r = qtrain.reshape %a : tensor<1x18xf32> -> tensor<1x3x2x3xf32>
  %wd = qtrain.load @vae.deconv.weight : tensor<3x2x3x2xf32>
  %bd = qtrain.load @vae.deconv.bias : tensor<2xf32>
  %l = qtrain.conv_transpose2d %r, %wd, %bd stride [2, 1] padding [1, 0, 0, 1] output_padding [1, 0] : (tensor<1x3x2x3xf32>, tensor<3x2x3x2xf32>, tensor<2xf32>) -> tensor<1x2x5x3xf32>
  %y = qtrain.sigmoid %l : tensor<1x2x5x3xf32>
  func.return %y : tensor<1x2x5x3xf32>
}

// ==== f32 =======================================================================================
//
// The whole of both functions.
// CHECK:      /* rng.step [] (state): RAM, initialised by odtc_init */
// CHECK-NEXT: static int32_t s0[1];

// CHECK-LABEL: float odtc_train_step(const void *input_, const void *target_)
// CHECK-NEXT:  {
// CHECK-NEXT:      const float *input = (const float *)input_;
// CHECK-NEXT:      const float *target = (const float *)target_;
// CHECK-NEXT:      odtc_dense_f32(input, p0, p1, ODTC_ARENA(float, 0), 1, 30, 2);
// CHECK-NEXT:      odtc_dense_f32(input, p2, p3, ODTC_ARENA(float, 8), 1, 30, 2);
// CHECK-NEXT:      odtc_reparameterize_f32(ODTC_ARENA(float, 0), ODTC_ARENA(float, 8), ODTC_ARENA(float, 16), 2, 7, (*s0));
// CHECK-NEXT:      odtc_dense_f32(ODTC_ARENA(float, 16), p4, p5, ODTC_ARENA(float, 24), 1, 2, 18);
// CHECK-NEXT:      odtc_relu_f32(ODTC_ARENA(float, 24), ODTC_ARENA(float, 24), 18);
// CHECK-NEXT:      odtc_conv_transpose2d_f32(ODTC_ARENA(float, 24), p6, p7, ODTC_ARENA(float, 96), 1, 3, 2, 3, 2, 3, 2, 5, 3, 2, 1, 1, 0, 0, 1);
// CHECK-NEXT:      *ODTC_ARENA(float, 216) = odtc_sigmoid_bce_f32(ODTC_ARENA(float, 96), target, 30);
// CHECK-NEXT:      odtc_sigmoid_bce_f32_grad(ODTC_ARENA(float, 96), target, ODTC_ARENA(float, 224), 30);
// CHECK-NEXT:      *ODTC_ARENA(float, 96) = odtc_kl_divergence_f32(ODTC_ARENA(float, 0), ODTC_ARENA(float, 8), 2, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_add_f32(ODTC_ARENA(float, 216), ODTC_ARENA(float, 96), ODTC_ARENA(float, 216), 1);
// CHECK-NEXT:      odtc_kl_divergence_f32_grad_mu(ODTC_ARENA(float, 0), ODTC_ARENA(float, 96), 2, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_kl_divergence_f32_grad_logvar(ODTC_ARENA(float, 8), ODTC_ARENA(float, 0), 2, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_conv2d_f32(ODTC_ARENA(float, 224), p6, NULL, ODTC_ARENA(float, 104), 1, 2, 5, 3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1);
// CHECK-NEXT:      odtc_conv2d_f32_grad_weight_sgd(ODTC_ARENA(float, 224), ODTC_ARENA(float, 24), p6, NULL, 3, 1, 2, 5, 3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_conv2d_f32_grad_bias(ODTC_ARENA(float, 224), ODTC_ARENA(float, 176), 1, 2, 15);
// CHECK-NEXT:      odtc_sgd_update_f32(p7, ODTC_ARENA(float, 176), NULL, NULL, 2, 1, 0, 1, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_relu_f32_grad(ODTC_ARENA(float, 104), ODTC_ARENA(float, 24), ODTC_ARENA(float, 224), 18);
// CHECK-NEXT:      odtc_dense_f32_grad_input(ODTC_ARENA(float, 224), p4, ODTC_ARENA(float, 24), 1, 2, 18);
// CHECK-NEXT:      odtc_dense_f32_grad_weight_sgd(ODTC_ARENA(float, 16), ODTC_ARENA(float, 224), p4, NULL, 18, 1, 2, 18, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_dense_f32_grad_bias(ODTC_ARENA(float, 224), ODTC_ARENA(float, 104), 1, 18);
// CHECK-NEXT:      odtc_sgd_update_f32(p5, ODTC_ARENA(float, 104), NULL, NULL, 18, 1, 0, 1, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_add_f32(ODTC_ARENA(float, 96), ODTC_ARENA(float, 24), ODTC_ARENA(float, 96), 2);
// CHECK-NEXT:      odtc_dense_f32_grad_weight_sgd(input, ODTC_ARENA(float, 96), p0, NULL, 2, 1, 30, 2, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_reparameterize_f32_grad_logvar(ODTC_ARENA(float, 24), ODTC_ARENA(float, 8), ODTC_ARENA(float, 16), 2, 7, (*s0));
// CHECK-NEXT:      odtc_counter_step(s0, 2147483647);
// CHECK-NEXT:      odtc_add_f32(ODTC_ARENA(float, 0), ODTC_ARENA(float, 16), ODTC_ARENA(float, 0), 2);
// CHECK-NEXT:      odtc_dense_f32_grad_weight_sgd(input, ODTC_ARENA(float, 0), p2, NULL, 2, 1, 30, 2, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_dense_f32_grad_bias(ODTC_ARENA(float, 0), ODTC_ARENA(float, 8), 1, 2);
// CHECK-NEXT:      odtc_sgd_update_f32(p3, ODTC_ARENA(float, 8), NULL, NULL, 2, 1, 0, 1, 0x1.0000000000000p-1f);
// CHECK-NEXT:      odtc_dense_f32_grad_bias(ODTC_ARENA(float, 96), ODTC_ARENA(float, 0), 1, 2);
// CHECK-NEXT:      odtc_sgd_update_f32(p1, ODTC_ARENA(float, 0), NULL, NULL, 2, 1, 0, 1, 0x1.0000000000000p-1f);
// CHECK-NEXT:      return *ODTC_ARENA(float, 216);
// CHECK-NEXT:  }

// CHECK-LABEL: void odtc_infer(const void *input_, void *output_)
// CHECK-NEXT:  {
// CHECK-NEXT:      const float *input = (const float *)input_;
// CHECK-NEXT:      float *output = (float *)output_;
// z = mu at inference: the log-variance head (p2, p3) is not computed (the pruning pass drops it).
// CHECK-NEXT:      odtc_dense_f32(input, p0, p1, ODTC_ARENA(float, 0), 1, 30, 2);
// CHECK-NEXT:      odtc_dense_f32(ODTC_ARENA(float, 0), p4, p5, ODTC_ARENA(float, 120), 1, 2, 18);
// CHECK-NEXT:      odtc_relu_f32(ODTC_ARENA(float, 120), ODTC_ARENA(float, 120), 18);
// CHECK-NEXT:      odtc_conv_transpose2d_f32(ODTC_ARENA(float, 120), p6, p7, ODTC_ARENA(float, 0), 1, 3, 2, 3, 2, 3, 2, 5, 3, 2, 1, 1, 0, 0, 1);
// CHECK-NEXT:      odtc_sigmoid_f32(ODTC_ARENA(float, 0), ODTC_ARENA(float, 120), 30);
// CHECK-NEXT:      memcpy(output, ODTC_ARENA(float, 120), 120u);
// CHECK-NEXT:  }

// ==== u8-asym ====================================================================================
//
// The same model fully quantized. The states rng.step (s0, the sample's counter),
// act.latent.range (s16, the range of z) and qtrain.step (s24, the stochastic rounding's
// counter) are int32/float RAM globals. The sample stays f32 on dequantized mu (at 296) and
// logvar (at 264); z's range is observed, averaged into s16 and z quantized to u8 for the
// decoder's qdense (acc_relu in place). The conv-transpose is streamed: a first
// odtc_qconv_transpose2d_acc_stream_u8 gives only its range (range at 72, no y), the
// second requantizes plane by plane into the u8 logits at 136 (pads top/left only: the
// bottom/right follow from oh x ow); scratch at 8 holds one int32 plane. The loss is f32 on
// the dequantized logits; the int8 error (at 80) goes back through two streamed
// odtc_qconv2d_acc_stream_s8 passes with the same weight p6 (before its update; groups 1
// last in the geometry), its bias gradient comes straight from the int8 error
// (odtc_qgrad_bias: n 1, o 2, spatial 15), and the weight takes the fused row-by-row update
// odtc_qconv_transpose2d_grad_weight_sgd_u8 (rows = its 3 input channels, row_range s3) and
// then odtc_qweight_regrid. Both counters advance once.
// U8:       /* rng.step [] (state): RAM, initialised by odtc_init */
// U8-NEXT:  static int32_t s0[1];
// U8:       /* act.latent.range [2] (state): RAM, initialised by odtc_init */
// U8:       /* qtrain.step [] (state): RAM, initialised by odtc_init */
// U8-NEXT:  static int32_t s24[1];
// U8-LABEL: float odtc_train_step(const void *input_, const void *target_)
// U8:       odtc_dequantize(ODTC_ARENA(uint8_t, 0), 1, ODTC_ARENA(float, 296), 2, 1, 1, ODTC_ARENA(float, 8), ODTC_ARENA(int32_t, 16), 0);
// U8:       odtc_dequantize(ODTC_ARENA(uint8_t, 8), 1, ODTC_ARENA(float, 264), 2, 1, 1, ODTC_ARENA(float, 16), ODTC_ARENA(int32_t, 24), 0);
// U8-NEXT:  odtc_reparameterize_f32(ODTC_ARENA(float, 296), ODTC_ARENA(float, 264), ODTC_ARENA(float, 8), 2, 7, (*s0));
// U8-NEXT:  odtc_minmax_f32(ODTC_ARENA(float, 8), ODTC_ARENA(float, 0), 2);
// U8-NEXT:  odtc_ema_range(s16, ODTC_ARENA(float, 0), ODTC_ARENA(float, 16), 0x1.99999a0000000p-4f);
// U8-NEXT:  memcpy(s16, ODTC_ARENA(float, 16), 8u);
// U8-NEXT:  *ODTC_ARENA(float, 280) = odtc_range_scale(ODTC_ARENA(float, 16), 0, 255, 0);
// U8-NEXT:  *ODTC_ARENA(int32_t, 0) = odtc_range_zero_point(ODTC_ARENA(float, 16), 0, 255, 0);
// U8-NEXT:  odtc_quantize(ODTC_ARENA(float, 8), ODTC_ARENA(uint8_t, 256), 1, 2, 1, 1, ODTC_ARENA(float, 280), ODTC_ARENA(int32_t, 0), 0);
// U8-NEXT:  *ODTC_ARENA(float, 88) = odtc_scale_mul(ODTC_ARENA(float, 280), s4);
// U8-NEXT:  odtc_qdense_acc_u8(ODTC_ARENA(uint8_t, 256), ODTC_ARENA(int32_t, 0), p4, s5, 0, p5, ODTC_ARENA(float, 88), ODTC_ARENA(int32_t, 136), ODTC_ARENA(int32_t, 8), 1, 2, 18);
// U8-NEXT:  odtc_acc_relu(ODTC_ARENA(int32_t, 136), ODTC_ARENA(int32_t, 136), 18);
// U8:       odtc_requantize_acc(ODTC_ARENA(int32_t, 136), ODTC_ARENA(uint8_t, 336), 1, 18, ODTC_ARENA(float, 88), ODTC_ARENA(float, 368), ODTC_ARENA(int32_t, 288));
// U8-NEXT:  *ODTC_ARENA(float, 80) = odtc_scale_mul(ODTC_ARENA(float, 368), s1);
// U8-NEXT:  odtc_qconv_transpose2d_acc_stream_u8(ODTC_ARENA(uint8_t, 336), ODTC_ARENA(int32_t, 288), p6, s2, p7, ODTC_ARENA(float, 80), NULL, NULL, NULL, 0, ODTC_ARENA(float, 72), 0, ODTC_ARENA(int32_t, 8), 1, 3, 2, 3, 2, 3, 2, 5, 3, 2, 1, 1, 0);
// U8-NEXT:  odtc_ema_range(s18, ODTC_ARENA(float, 72), ODTC_ARENA(float, 8), 0x1.99999a0000000p-4f);
// U8-NEXT:  memcpy(s18, ODTC_ARENA(float, 8), 8u);
// U8-NEXT:  *ODTC_ARENA(float, 168) = odtc_range_scale(ODTC_ARENA(float, 8), 0, 255, 0);
// U8-NEXT:  *ODTC_ARENA(int32_t, 176) = odtc_range_zero_point(ODTC_ARENA(float, 8), 0, 255, 0);
// U8-NEXT:  odtc_qconv_transpose2d_acc_stream_u8(ODTC_ARENA(uint8_t, 336), ODTC_ARENA(int32_t, 288), p6, s2, p7, ODTC_ARENA(float, 80), ODTC_ARENA(float, 168), ODTC_ARENA(int32_t, 176), ODTC_ARENA(uint8_t, 136), 1, NULL, 0, ODTC_ARENA(int32_t, 8), 1, 3, 2, 3, 2, 3, 2, 5, 3, 2, 1, 1, 0);
// U8-NEXT:  odtc_dequantize(ODTC_ARENA(uint8_t, 136), 1, ODTC_ARENA(float, 8), 30, 1, 1, ODTC_ARENA(float, 168), ODTC_ARENA(int32_t, 176), 0);
// U8-NEXT:  *ODTC_ARENA(float, 360) = odtc_sigmoid_bce_f32(ODTC_ARENA(float, 8), target, 30);
// U8-NEXT:  odtc_sigmoid_bce_f32_grad(ODTC_ARENA(float, 8), target, ODTC_ARENA(float, 136), 30);
// U8:       odtc_quantize(ODTC_ARENA(float, 136), ODTC_ARENA(int8_t, 80), 0, 30, 1, 1, ODTC_ARENA(float, 112), ODTC_ARENA(int32_t, 16), 0);
// U8:       *ODTC_ARENA(float, 8) = odtc_scale_mul(ODTC_ARENA(float, 112), s1);
// U8-NEXT:  odtc_qconv2d_acc_stream_s8(ODTC_ARENA(int8_t, 80), ODTC_ARENA(int32_t, 16), p6, s2, NULL, ODTC_ARENA(float, 8), NULL, NULL, NULL, 0, ODTC_ARENA(float, 136), 0, ODTC_ARENA(int32_t, 24), 1, 2, 5, 3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1);
// U8:       odtc_qconv2d_acc_stream_s8(ODTC_ARENA(int8_t, 80), ODTC_ARENA(int32_t, 16), p6, s2, NULL, ODTC_ARENA(float, 8), ODTC_ARENA(float, 192), ODTC_ARENA(int32_t, 200), ODTC_ARENA(int8_t, 136), 0, NULL, 0, ODTC_ARENA(int32_t, 24), 1, 2, 5, 3, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1);
// U8:       odtc_qgrad_bias(ODTC_ARENA(int8_t, 80), 0, ODTC_ARENA(float, 112), ODTC_ARENA(int32_t, 16), ODTC_ARENA(float, 24), 1, 2, 15);
// U8-NEXT:  odtc_sgd_update_f32(p7, ODTC_ARENA(float, 24), NULL, NULL, 2, 1, 0, 1, 0x1.0000000000000p-1f);
// U8:       odtc_qconv_transpose2d_grad_weight_sgd_u8(ODTC_ARENA(uint8_t, 336), ODTC_ARENA(int32_t, 288), ODTC_ARENA(int8_t, 80), ODTC_ARENA(int32_t, 16), ODTC_ARENA(float, 8), s1, s2, p6, s3, s24, ODTC_ARENA(int32_t, 24), 1, 3, 2, 3, 2, 3, 2, 5, 3, 2, 1, 1, 0, 0x1.0000000000000p-1f, 1, 0);
// U8-NEXT:  odtc_qweight_regrid(p6, s3, s1, s2, s1, s2, 0, 3, 12, -128, 127, 0, 0x0.0p+0f, s24, 1, 0);
// U8:       odtc_reparameterize_f32_grad_logvar(ODTC_ARENA(float, 72), ODTC_ARENA(float, 264), ODTC_ARENA(float, 0), 2, 7, (*s0));
// U8-NEXT:  odtc_counter_step(s0, 2147483647);
// U8:       odtc_counter_step(s24, 2147483647);
// U8-NEXT:  return *ODTC_ARENA(float, 360);
// U8-NEXT:  }
// Inference: z = mu, no sampling; the decoder and the f32 output sigmoid. Its conv-transpose
// is streamed in one pass (all=true): inference requantizes to the stored range, so the one
// requantizing call (no range: NULL) writes the 8-bit output plane by plane.
// U8-LABEL: void odtc_infer(const void *input_, void *output_)
// U8-NOT:   odtc_reparameterize
// U8:       *ODTC_ARENA(float, 176) = odtc_range_scale(s18, 0, 255, 0);
// U8-NEXT:  *ODTC_ARENA(int32_t, 184) = odtc_range_zero_point(s18, 0, 255, 0);
// U8-NEXT:  odtc_qconv_transpose2d_acc_stream_u8(ODTC_ARENA(uint8_t, 152), ODTC_ARENA(int32_t, 64), p6, s2, p7, ODTC_ARENA(float, 72), ODTC_ARENA(float, 176), ODTC_ARENA(int32_t, 184), ODTC_ARENA(uint8_t, 120), 1, NULL, 0, ODTC_ARENA(int32_t, 0), 1, 3, 2, 3, 2, 3, 2, 5, 3, 2, 1, 1, 0);
// U8-NEXT:  odtc_dequantize(ODTC_ARENA(uint8_t, 120), 1, ODTC_ARENA(float, 0), 30, 1, 1, ODTC_ARENA(float, 176), ODTC_ARENA(int32_t, 184), 0);
// U8-NEXT:  odtc_sigmoid_f32(ODTC_ARENA(float, 0), ODTC_ARENA(float, 120), 30);
// U8-NEXT:  memcpy(output, ODTC_ARENA(float, 120), 120u);
// U8-NEXT:  }
