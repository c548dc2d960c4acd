// Parse errors of the qtrain custom syntax (the messages qtrain.py raises with
// `parser.raise_error`). --parsing-diagnostics prints `file:line:col`, the source line, a
// caret and the message; each case checks the location and the whole message line.
// RUN: odtc-opt %s --split-input-file --parsing-diagnostics | filecheck %s --match-full-lines

func.func @q_storage_float(%a: tensor<2x!qtrain.q<f32, sym>>) {
  func.return
}
// CHECK:      {{.*}}invalid-syntax.mlir:[[# @LINE - 3]]:{{[0-9]+}}
// CHECK:      qtrain.q: storage must be an integer type, got f32

// -----

func.func @q_scheme(%a: tensor<2x!qtrain.q<si8, symmetric>>) {
  func.return
}
// CHECK:      {{.*}}invalid-syntax.mlir:[[# @LINE - 3]]:{{[0-9]+}}
// CHECK:      Expected one of 'asym', 'sym' in qtrain.q

// -----

// A negative axis is a parse error: `axis N` takes a non-negative integer literal.
func.func @q_axis_negative(%a: tensor<2x!qtrain.q<si8, sym, axis -2>>) {
  func.return
}
// CHECK:      {{.*}}invalid-syntax.mlir:[[# @LINE - 3]]:{{[0-9]+}}
// CHECK:      Expected integer literal

// -----

qtrain.param @p frozen : f32 = dense<1.000000e+00> : tensor<f32>
// CHECK:      {{.*}}invalid-syntax.mlir:[[# @LINE - 1]]:{{[0-9]+}}
// CHECK:      qtrain.param: type must be a tensor, got f32

// -----

qtrain.state @s : i32 = dense<0> : tensor<i32>
// CHECK:      {{.*}}invalid-syntax.mlir:[[# @LINE - 1]]:{{[0-9]+}}
// CHECK:      qtrain.state: type must be a tensor, got i32

// -----

// The keyword is checked only after `: type = init` is parsed, so the error points past the
// op rather than at the symbol name (see the report); only the message is checked here.
qtrain.param @p : tensor<2xf32> = dense<1.000000e+00> : tensor<2xf32>
// CHECK:      qtrain.param: expected 'trainable' or 'frozen' after the symbol name

// -----

// The init needs its own type (`dense<...> : tensor<...>`); the symbol's type is not reused.
qtrain.param @p frozen : tensor<2xf32> = dense<1.000000e+00>
// CHECK:      Expected ':' in dense attribute
