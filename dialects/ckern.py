"""The `ckern` dialect: the C level — runtime kernel calls over planned buffers.

`convert-qtrain-to-c` produces it and the `c` target prints it as C; nothing string-pastes C
inside a pass. A module holds `ckern.global` storage (parameters and state), and one
`ckern.func` per device-API entry point whose body is a straight line of `ckern.call`,
`ckern.copy` and a final `ckern.return`. Buffers are `#ckern.ref` attributes:

    #ckern.ref<"arena", "", 1024, "float">     arena + 1024 bytes, as float*
    #ckern.ref<"global", "p3", 0, "float">     the storage of global p3
    #ckern.ref<"arg", "input", 0, "float">     a function argument
    #ckern.ref<"null", "", 0, "float">         NULL (an absent optional operand)

Call arguments are refs, integers (`i32`/`i64` IntegerAttr), floats (`f32`/`f64` FloatAttr,
printed exactly), `ckern.ints` constant int32 arrays (channel lists), or `ckern.deref` (the scalar a ref
points to, read at call time).
"""

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    i32,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
)
from xdsl.traits import IsolatedFromAbove, NoTerminator, SymbolOpInterface
from xdsl.utils.exceptions import VerifyException

from odtc.dialects.qtrain import NpzAttr

CTYPES = ("float", "int32_t", "int8_t", "uint8_t", "int16_t")
SPACES = ("arena", "global", "arg", "null")


@irdl_attr_definition
class RefAttr(ParametrizedAttribute):
    """A pointer expression: a place in the arena, a global, an argument, or NULL."""

    name = "ckern.ref"

    space: StringAttr
    target: StringAttr
    offset: IntAttr
    ctype: StringAttr

    def __init__(self, space: str, target: str = "", offset: int = 0, ctype: str = "float") -> None:
        super().__init__(StringAttr(space), StringAttr(target), IntAttr(offset), StringAttr(ctype))

    def verify(self) -> None:
        if self.space.data not in SPACES:
            raise VerifyException(f"ckern.ref: space must be one of {', '.join(SPACES)}, got '{self.space.data}'")
        if self.ctype.data not in CTYPES:
            raise VerifyException(f"ckern.ref: ctype must be one of {', '.join(CTYPES)}, got '{self.ctype.data}'")
        if self.offset.data < 0:
            raise VerifyException(f"ckern.ref: offset must be >= 0, got {self.offset.data}")


@irdl_attr_definition
class IntsAttr(ParametrizedAttribute):
    """A constant int32 array argument (e.g. a sparse-update channel list)."""

    name = "ckern.ints"

    values: DenseArrayBase

    def __init__(self, values: list[int]) -> None:
        super().__init__(DenseArrayBase.from_list(i32, values))


@irdl_attr_definition
class DerefAttr(ParametrizedAttribute):
    """The value a ref points to (a scalar read at call time, e.g. the batch position)."""

    name = "ckern.deref"

    ref: RefAttr

    def __init__(self, ref: RefAttr) -> None:
        super().__init__(ref)


@irdl_op_definition
class GlobalOp(IRDLOperation):
    """Storage of one parameter or state symbol.

    `kind` is "trainable" (RAM, initialised from a flash copy by odtc_init), "frozen"
    (const, flash) or "state" (RAM). `param_index` numbers parameters for odtc_param_*.
    """

    name = "ckern.global"
    sym_name = prop_def(StringAttr)
    source_name = prop_def(StringAttr)
    ctype = prop_def(StringAttr)
    shape = prop_def(DenseArrayBase)
    kind = prop_def(StringAttr)
    init = prop_def(DenseIntOrFPElementsAttr | NpzAttr)
    param_index = opt_prop_def(IntegerAttr)
    traits = traits_def(SymbolOpInterface())

    def verify_(self) -> None:
        if self.kind.data not in ("trainable", "frozen", "state"):
            raise VerifyException(f"ckern.global: kind must be trainable, frozen or state, got '{self.kind.data}'")
        if self.ctype.data not in CTYPES:
            raise VerifyException(f"ckern.global: ctype must be one of {', '.join(CTYPES)}, got '{self.ctype.data}'")


@irdl_op_definition
class FuncOp(IRDLOperation):
    """A device-API entry point (`odtc_train_step`, `odtc_infer`) with its arena size."""

    name = "ckern.func"
    sym_name = prop_def(StringAttr)
    arena_bytes = prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(SymbolOpInterface(), IsolatedFromAbove(), NoTerminator())


@irdl_op_definition
class CallOp(IRDLOperation):
    """Call a runtime kernel; with `result`, its return value is stored there."""

    name = "ckern.call"
    callee = prop_def(StringAttr)
    args = prop_def(ArrayAttr)
    result = opt_prop_def(RefAttr)

    def verify_(self) -> None:
        for a in self.args.data:
            if not isinstance(a, RefAttr | IntegerAttr | IntsAttr | DerefAttr) and not _is_float(a):
                raise VerifyException(f"ckern.call {self.callee.data}: unsupported argument {a}")


def _is_float(a: Attribute) -> bool:
    from xdsl.dialects.builtin import FloatAttr

    return isinstance(a, FloatAttr)


@irdl_op_definition
class CopyOp(IRDLOperation):
    """memcpy(dst, src, bytes)."""

    name = "ckern.copy"
    dst = prop_def(RefAttr)
    src = prop_def(RefAttr)
    bytes = prop_def(IntegerAttr)


@irdl_op_definition
class ReturnOp(IRDLOperation):
    """End of the entry point; `value` (a float scalar, the loss) is returned if given."""

    name = "ckern.return"
    value = opt_prop_def(RefAttr)


CKern = Dialect("ckern", [GlobalOp, FuncOp, CallOp, CopyOp, ReturnOp], [RefAttr, IntsAttr, DerefAttr])
