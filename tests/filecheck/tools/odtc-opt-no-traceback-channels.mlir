// Regression: a `channels` attribute on a rank-0 param used to make ParamOp.verify_ index
// `self.type.get_shape()[0]`, and odtc-opt died with an IndexError traceback. It is now a
// one-line verifier error.

// RUN: not odtc-opt %s 2>&1 | filecheck %s
// CHECK:      {{\A}}odtc-opt: error: qtrain.param: @s: channels needs a parameter of rank >= 1{{$}}
// CHECK-NOT:  {{.}}

qtrain.param @s trainable : tensor<f32> = dense<1.0> : tensor<f32> {channels = array<i64: 0>}
